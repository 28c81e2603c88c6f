import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { refusal, uniquePrefix } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

const redisUrl = inject('redisUrl');

/** The grammar as SECURITY.md states it; every refusal's message carries it. */
const RULE = "1-128 printable ASCII characters, no spaces, '{', '}' or '*'";
const payload = { amount: 1, source: 's', totalXp: 1 };

describe('ids outside the grammar, at the publisher', () => {
  let publisher: Publisher;
  let probe: StreamProbe;

  beforeEach(async () => {
    const prefix = uniquePrefix('ids');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeStreams(redisUrl, prefix);
    await publisher.toUser('baseline').emit('xp:gained', payload);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it('refuses user ids, room names and event ids with { } * whitespace or non-ASCII, naming the field, the character and the rule; nothing enqueued', async () => {
    const keysBefore = await probe.allKeys();
    const cases: Array<[() => Promise<unknown>, string, string]> = [
      [() => publisher.toUser('a{b').emit('xp:gained', payload), 'to.user', "'{' (U+007B) at index 1"],
      [() => publisher.toUser('tag}').emit('xp:gained', payload), 'to.user', "'}' (U+007D) at index 3"],
      [() => publisher.toUser('*').emit('xp:gained', payload), 'to.user', "'*' (U+002A) at index 0"],
      [() => publisher.toUser('josé').emit('xp:gained', payload), 'to.user', 'U+00E9 at index 3'],
      [() => publisher.toUsers(['ok', 'b c']).emit('xp:gained', payload), 'to.users[1]', 'U+0020 at index 1'],
      [() => publisher.toRoom('team\n1').emit('xp:gained', payload), 'to.room', 'U+000A at index 4'],
      [() => publisher.toRoom('{herald}').emit('xp:gained', payload), 'to.room', "'{' (U+007B) at index 0"],
      [
        () => publisher.toUser('u').emit('xp:gained', payload, { eventId: 'ev{1}' }),
        'eventId',
        "'{' (U+007B) at index 2",
      ],
      [
        () => publisher.toUser('u').emit('xp:gained', payload, { eventId: 'ünïcode' }),
        'eventId',
        'U+00FC at index 0',
      ],
    ];
    for (const [publish, field, where] of cases) {
      const error = await refusal(publish);
      expect(error.code, field).toBe('invalid_payload');
      expect(error.issues, field).toEqual([{ path: field, message: `contains ${where}; ids are ${RULE}` }]);
      expect(error.message, field).toContain(`${field}: contains ${where}; ids are ${RULE}`);
    }
    expect(await probe.total()).toBe(1);
    expect(await probe.allKeys()).toEqual(keysBefore);
  });

  it("refuses a room that is a user's own room (user:{id}): it would skip that user's seq, inbox and fallback", async () => {
    const error = await refusal(() => publisher.toRoom('user:bob').emit('xp:gained', payload));
    expect(error.code).toBe('invalid_payload');
    expect(error.issues).toEqual([
      {
        path: 'to.room',
        message: "rooms starting with 'user:' are users' own rooms: publish to { user: id } instead",
      },
    ]);
    expect(await probe.total()).toBe(1);
    // Other rooms with a colon are rooms like any other.
    await publisher.toRoom('team:user:bob').emit('xp:gained', payload);
    expect(await probe.total()).toBe(2);
  });

  it('refuses an over-long id and a presence lookup outside the grammar the same way', async () => {
    const long = await refusal(() => publisher.toUser('x'.repeat(129)).emit('xp:gained', payload));
    expect(long.issues).toEqual([{ path: 'to.user', message: `is 129 characters long; ids are ${RULE}` }]);
    const presence = await refusal(() => publisher.presence('a*'));
    expect(presence.issues).toEqual([
      { path: 'userId', message: `contains '*' (U+002A) at index 1; ids are ${RULE}` },
    ]);
  });

  it('names the accepted shapes for a `to` of any other shape', async () => {
    for (const to of [{ team: 'x' }, 'user-1', { user: 'a', room: 'b' }, { broadcast: false }, {}]) {
      const error = await refusal(() => publisher.publish({ event: 'xp:gained', to, payload } as never));
      expect(error.issues, JSON.stringify(to)).toEqual([
        {
          path: 'to',
          message: 'must be one of { user: id }, { users: [id, …] }, { room: name } or { broadcast: true }',
        },
      ]);
    }
  });

  it('accepts ids full of separators and specials, and delivers them unchanged', async () => {
    const eventId = `ev"<a>(b)[c]\\;,@%/?#!$&'+=^\`|~:.`;
    expect(
      await publisher.toUsers(['colA:b', 'b:c', 'u|1/2?3#4%5']).emit('xp:gained', payload, { eventId }),
    ).toBe(eventId);
    const users = (await probe.events())
      .filter((e) => e.data.eventId === eventId)
      .flatMap((e) => (e.data.target.kind === 'users' ? e.data.target.userIds : []));
    expect(users.sort()).toEqual(['b:c', 'colA:b', 'u|1/2?3#4%5']);
  });
});
