import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, isId } from '@herald/contracts';
import { prng, type Random } from '@herald/testing';
import { createKeys, hashId, type RedisKeys } from './keys.js';

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
    [keys.eventIdClaim(a), `eventIdClaim ${a}`],
    [keys.fallbackSent(a, b), `fallbackSent ${a} ${b}`],
    [keys.eventRecord(keys.partitionOf(b), a, part), `eventRecord ${keys.partitionOf(b)} ${a} ${part}`],
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
      [keys.partitionsRecord, 'partitionsRecord'],
      [keys.socketIoChannelPrefix, 'socketIoChannelPrefix'],
      ...keys.partitionNumbers.flatMap((n): Array<[string, string]> => [
        [keys.stream(n), `stream ${n}`],
        [keys.deadStream(n), `deadStream ${n}`],
      ]),
    ];
    for (let i = 0; i < 5_000; i++) entries.push(...keysOf(keys, random));
    for (const [eventId, userId] of splitPairs(random)) {
      entries.push([keys.eventRecord(0, eventId, 0), `eventRecord 0 ${eventId} 0`]);
      entries.push([keys.fallbackSent(eventId, userId), `fallbackSent ${eventId} ${userId}`]);
    }
    expectInjective(entries);
    // BullMQ owns `{p}:fallback:*` (the fallback queue).
    const sentPattern = globToRegExp(keys.fallbackSentPattern);
    for (const [key, input] of entries) {
      expect(sentPattern.test(key), input).toBe(input.startsWith('fallbackSent '));
      expect(key.startsWith(`${prefix}:fallback:`), input).toBe(false);
    }
  });

  it("keeps each user's keys in its partition's hash tag, and the rest in the prefix's", () => {
    const random = prng(seed + 2);
    for (let i = 0; i < 2_000; i++) {
      const [a, b] = [randomId(random), randomId(random)];
      const tag = `herald:${keys.partitionOf(a)}`;
      for (const key of [
        keys.presence(a),
        keys.email(a),
        keys.user(a),
        keys.inbox(a),
        keys.fallbackSent(b, a),
      ])
        expect(hashTag(key), `seed ${seed}: ${key}`).toBe(tag);
      expect(hashTag(keys.eventIdClaim(a))).toBe(tag);
    }
    for (const n of keys.partitionNumbers) {
      expect(hashTag(keys.stream(n))).toBe(`herald:${n}`);
      expect(hashTag(keys.deadStream(n))).toBe(`herald:${n}`);
      expect(hashTag(keys.eventRecord(n, 'e', 3))).toBe(`herald:${n}`);
    }
    for (const key of [keys.clientEvents, keys.clientEventsDead, keys.undeliverable, keys.partitionsRecord])
      expect(hashTag(key)).toBe('herald');
  });

  it('spreads user ids evenly over the partitions, the same way every time', () => {
    const counts = new Array<number>(keys.partitions).fill(0);
    for (let i = 0; i < 16_000; i++) counts[keys.partitionOf(`user-${i}`)]! += 1;
    // 1,000 expected per partition; a fair hash stays well within ±15%.
    for (const count of counts) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1_150);
    }
    // FNV-1a of "a" is 0xe40c292c: fixed, so another language can place users the same way.
    expect(hashId('a')).toBe(0xe40c292c);
    expect(createKeys(prefix, 7).partitionOf('a')).toBe(0xe40c292c % 7);
  });

  it('refuses a prefix that is not a hash tag, and a partition count out of range', () => {
    expect(() => createKeys('herald')).toThrow(/hash tag such as \{herald\}/);
    expect(() => createKeys('{herald}', 0)).toThrow(/HERALD_PARTITIONS/);
    expect(() => createKeys('{herald}', 1_025)).toThrow(/HERALD_PARTITIONS/);
  });
});

/** Redis glob (as PSUBSCRIBE and SCAN read it; braces are plain characters there) as a RegExp. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

describe('the Socket.IO channel prefix', () => {
  it('is the key prefix without its hash tag, so rooms’ sharded channels spread over the slots', () => {
    expect(createKeys('{herald}').socketIoChannelPrefix).toBe('herald:socket.io');
    // A channel is hashed whole when it has no tag: two rooms' channels do not share a tag.
    const channel = (room: string) => `${createKeys('{herald}').socketIoChannelPrefix}#/#${room}#`;
    expect(hashTag(channel('user:a'))).toBe(channel('user:a'));
    expect(hashTag(channel('user:b'))).not.toBe(hashTag(channel('user:a')));
  });
});
