import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, isId } from '@herald/contracts';
import { prng, type Random } from '@herald/testing';
import { createKeys, type RedisKeys } from './keys.js';

/** Replay a failure with HERALD_PROPERTY_SEED=<the seed in the test's name>. */
const seed = Number(process.env.HERALD_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 32));

/** Every printable ASCII character the grammar allows, separators first so they come up often. */
const SEPARATORS = ':|%#/.@-_;,';
const ALPHABET = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => !'{}*'.includes(c))
  .join('');

function pick(random: Random, text: string): string {
  return text[Math.floor(random() * text.length)] as string;
}

/** An id of the grammar: often short and full of separators and digits, sometimes up to the cap. */
function randomId(random: Random): string {
  const length = random() < 0.9 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * MAX_ID_LENGTH);
  let id = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    id += pick(random, r < 0.4 ? SEPARATORS : r < 0.6 ? '0123456789' : ALPHABET);
  }
  return id;
}

/**
 * Pairs that join to the same text around a `:`: `a:b:c` gives (`a`, `b:c`) and
 * (`a:b`, `c`), the shape of the reported collision, so a key that only joins its ids
 * with `:` fails on every run.
 */
function splitPairs(random: Random): Array<[string, string]> {
  const parts = Array.from({ length: 2 + Math.floor(random() * 4) }, () => randomId(random).slice(0, 20));
  const pairs: Array<[string, string]> = [];
  for (let at = 1; at < parts.length; at++) {
    const pair: [string, string] = [parts.slice(0, at).join(':'), parts.slice(at).join(':')];
    if (isId(pair[0]) && isId(pair[1])) pairs.push(pair);
  }
  return pairs;
}

/** Every key a set of inputs builds, tagged with the builder and inputs that built it. */
function keysOf(keys: RedisKeys, random: Random): Array<[string, string]> {
  const [a, b] = [randomId(random), randomId(random)];
  const part = Math.floor(random() * 12);
  return [
    [keys.presence(a), `presence ${a}`],
    [keys.email(a), `email ${a}`],
    [keys.user(a), `user ${a}`],
    [keys.inbox(a), `inbox ${a}`],
    [keys.jobSeqs(a), `jobSeqs ${a}`],
    [keys.fallbackSent(a, b), `fallbackSent ${a} ${b}`],
    [keys.eventRecord(a, part), `eventRecord ${a} ${part}`],
  ];
}

/** The part of a key Redis Cluster hashes: the first non-empty `{…}`, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Records `key → what built it` and fails when two different inputs built the same key. */
function expectInjective(entries: Iterable<[string, string]>): number {
  const seen = new Map<string, string>();
  for (const [key, input] of entries) {
    const earlier = seen.get(key);
    if (earlier !== undefined && earlier !== input) {
      expect.fail(`seed ${seed}: ${JSON.stringify(earlier)} and ${JSON.stringify(input)} share ${key}`);
    }
    seen.set(key, input);
  }
  return seen.size;
}

describe(`Redis keys built from ids (seed ${seed})`, () => {
  const prefix = '{herald}';
  const keys = createKeys(prefix);

  it('fallbackSent gives distinct pairs distinct keys, for ids full of separators', () => {
    const random = prng(seed);
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < 5_000; i++) {
      const pairs: Array<[string, string]> = [...splitPairs(random), [randomId(random), randomId(random)]];
      // The reported pair, whatever the seed.
      if (i === 0) pairs.push(['colA:b', 'c'], ['colA', 'b:c']);
      for (const [eventId, userId] of pairs) {
        entries.push([keys.fallbackSent(eventId, userId), JSON.stringify([eventId, userId])]);
      }
    }
    expect(expectInjective(entries)).toBeGreaterThan(10_000);
  });

  it('no two builders, or two inputs of one builder, share a key; none lands in a queue’s keys; the fallback-sent pattern matches its keys only', () => {
    const random = prng(seed + 1);
    const entries: Array<[string, string]> = [
      [keys.clientEvents, 'clientEvents'],
      [keys.clientEventsDead, 'clientEventsDead'],
      [keys.undeliverable, 'undeliverable'],
      [keys.socketIoChannelPrefix, 'socketIoChannelPrefix'],
    ];
    for (let i = 0; i < 5_000; i++) entries.push(...keysOf(keys, random));
    for (const [eventId, userId] of splitPairs(random)) {
      entries.push([keys.eventRecord(eventId, 0), `eventRecord ${eventId} 0`]);
      entries.push([keys.fallbackSent(eventId, userId), `fallbackSent ${eventId} ${userId}`]);
    }
    expectInjective(entries);
    // BullMQ owns `{p}:events:*` and `{p}:fallback:*` (the two queues).
    const sentPrefix = keys.fallbackSentPattern.slice(0, -1);
    for (const [key, input] of entries) {
      expect(key.startsWith(sentPrefix), input).toBe(input.startsWith('fallbackSent '));
      expect(key.startsWith(`${prefix}:events:`) || key.startsWith(`${prefix}:fallback:`), input).toBe(false);
    }
  });

  it('keeps every key in the prefix’s hash slot, and adds no hash tag under a prefix without one', () => {
    const random = prng(seed + 2);
    const untagged = createKeys('herald');
    for (let i = 0; i < 2_000; i++) {
      for (const [key, input] of keysOf(keys, random))
        expect(hashTag(key), `seed ${seed}: ${input}`).toBe('herald');
      for (const [key, input] of keysOf(untagged, random))
        expect(hashTag(key), `seed ${seed}: ${input}`).toBe(key);
    }
  });
});

describe('the Socket.IO channel prefix', () => {
  it('is the key prefix without its hash tag, so rooms’ sharded channels spread over the slots', () => {
    expect(createKeys('{herald}').socketIoChannelPrefix).toBe('herald:socket.io');
    expect(createKeys('herald').socketIoChannelPrefix).toBe('herald:socket.io');
    // A channel is hashed whole when it has no tag: two rooms' channels do not share a tag.
    const channel = (room: string) => `${createKeys('{herald}').socketIoChannelPrefix}#/#${room}#`;
    expect(hashTag(channel('user:a'))).toBe(channel('user:a'));
    expect(hashTag(channel('user:b'))).not.toBe(hashTag(channel('user:a')));
  });
});
