import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

const redisUrl = inject('redisUrl');

describe('publishing valid events', () => {
  let prefix: string;
  let publisher: Publisher;
  let probe: StreamProbe;

  beforeEach(() => {
    prefix = uniquePrefix('pub');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeStreams(redisUrl, prefix);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it("appends one entry to the user's partition stream, carrying the event as published and its seq", async () => {
    const userId = uniqueUser();
    const payload = {
      notification: { id: 'n-1', title: 'Welcome', message: 'Hi', extra: { kept: true } },
      timestamp: 'now',
    };

    const id = await publisher.toUser(userId).emit('notification:new', payload);

    const entries = await probe.entries();
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(entry.partition).toBe(probe.keys.partitionOf(userId));
    expect(entry.seqs).toEqual([[1]]);
    expect(entry.events).toHaveLength(1);
    expect(entry.events[0]).toMatchObject({
      eventId: id,
      event: 'notification:new',
      payload,
      target: { kind: 'users', userIds: [userId] },
      fallback: { channel: 'email' },
      part: { index: 0, count: 1 },
    });
    // The user's keys and the stream share the partition's hash tag; a generated id leaves no record.
    const tag = `{${prefix.slice(1, -1)}:${entry.partition}}`;
    expect(await probe.allKeys()).toEqual(
      [`${prefix}:partitions`, `${tag}:events`, `${tag}:inbox:${userId}`, `${tag}:user:${userId}`].sort(),
    );
  });

  it('splits a toUsers of 1,200 ids by partition into slices of at most 500, covering every id once', async () => {
    const userIds = Array.from({ length: 1_200 }, (_, i) => `bulk-${i}`);

    const id = await publisher
      .toUsers(userIds)
      .emit('xp:gained', { amount: 5, source: 'quest', totalXp: 50 });

    const entries = await probe.entries();
    // One entry per partition (each holds about 75 of these users).
    expect(entries).toHaveLength(16);
    const items = entries.flatMap((entry) => entry.events).sort((a, b) => a.part.index - b.part.index);
    expect(items.map((item) => item.part)).toEqual(items.map((_, index) => ({ index, count: 16 })));
    for (const entry of entries) {
      for (const item of entry.events) {
        const ids = item.target.kind === 'users' ? item.target.userIds : [];
        for (const userId of ids) expect(probe.keys.partitionOf(userId)).toBe(entry.partition);
        expect(entry.seqs[0]).toEqual(ids.map(() => 1));
      }
    }
    expect(items.flatMap((item) => (item.target.kind === 'users' ? item.target.userIds : [])).sort()).toEqual(
      [...userIds].sort(),
    );
    expect(new Set(items.map((item) => item.eventId))).toEqual(new Set([id]));
    // xp:gained has no fallback by default.
    expect(items.every((item) => item.fallback === null)).toBe(true);
  });

  it('enqueues rooms and broadcasts as live-only events', async () => {
    await publisher.toRoom('team-7').emit('leaderboard:updated', { leaderboard: [{ userId: 'a', xp: 1 }] });
    await publisher.broadcast().emit('leaderboard:updated', { leaderboard: [] });

    const targets = (await probe.events()).map(({ data }) => [data.target, data.fallback]);
    expect(targets).toEqual(
      expect.arrayContaining([
        [{ kind: 'room', room: 'team-7' }, null],
        [{ kind: 'broadcast' }, null],
      ]),
    );
    expect(targets).toHaveLength(2);
  });

  it('takes the untyped request of the HTTP API through the same path, honouring eventId and fallback', async () => {
    const userId = uniqueUser();
    const id = await publisher.publish({
      event: 'notification:new',
      to: { user: userId },
      payload: { notification: { title: 'Over HTTP' } },
      eventId: 'order-42.shipped',
      fallback: { email: 'someone@example.com' },
    });

    expect(id).toBe('order-42.shipped');
    const [event] = await probe.events();
    expect(event?.data).toMatchObject({
      eventId: 'order-42.shipped',
      fallback: { channel: 'email', email: 'someone@example.com' },
    });
  });
});
