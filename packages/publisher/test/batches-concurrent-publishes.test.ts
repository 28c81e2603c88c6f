import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { HeraldError, USERS_PER_SLICE } from '@herald/contracts';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

const redisUrl = inject('redisUrl');
const xp = (n: number) => ({ amount: n, source: 'batch', totalXp: n });

describe('concurrent publishes', () => {
  let prefix: string;
  let probe: StreamProbe;
  /** The same deployment seen with one partition, for the publishers opened with `partitions: 1`. */
  let one: StreamProbe;
  const publishers: Publisher[] = [];
  const open = (options: { maxBatchEvents?: number; lingerMs?: number; partitions?: number } = {}) => {
    const publisher = createPublisher({ redisUrl, prefix, ...options });
    publishers.push(publisher);
    return publisher;
  };

  beforeEach(() => {
    prefix = uniquePrefix('batch');
    probe = probeStreams(redisUrl, prefix);
    one = probeStreams(redisUrl, prefix, 1);
  });

  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((p) => p.close()));
    await Promise.all([probe.close(), one.close()]);
  });

  it('share one entry, each resolving to its own id; a bad one throws and is not enqueued', async () => {
    const publisher = open();
    const user = uniqueUser();
    const calls = Array.from({ length: 50 }, (_, i) => publisher.toUser(user).emit('xp:gained', xp(i)));
    const bad = publisher
      .toUser(user)
      // @ts-expect-error amount must be a number
      .emit('xp:gained', { amount: 'lots', source: 'batch', totalXp: 1 })
      .catch((error: unknown) => error);

    const ids = await Promise.all(calls);
    expect(await bad).toBeInstanceOf(HeraldError);
    expect(new Set(ids).size).toBe(50);
    const entries = await probe.entries();
    expect(entries).toHaveLength(1);
    const data = entries[0]!;
    expect(data.seqs).toEqual(ids.map((_, i) => [i + 1]));
    // In publish order, each with its own id and payload.
    expect(data.events.map((e) => e.eventId)).toEqual(ids);
    expect(data.events.map((e) => (e.payload as { amount: number }).amount)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('are split at maxBatchEvents, and a toUsers in the same batch still goes in slices of at most 500 ids', async () => {
    const publisher = open({ maxBatchEvents: 20 });
    const many = Array.from({ length: 1_100 }, (_, i) => `m-${i}`);
    const ids = await Promise.all([
      ...Array.from({ length: 45 }, (_, i) => publisher.toUser(uniqueUser()).emit('xp:gained', xp(i))),
      publisher.toUsers(many).emit('xp:gained', xp(0)),
    ]);

    const jobs = await probe.entries();
    for (const job of jobs) {
      expect(job.events.length).toBeLessThanOrEqual(20);
      const users = job.events.reduce(
        (n, e) => n + (e.target.kind === 'users' ? e.target.userIds.length : 0),
        0,
      );
      expect(users).toBeLessThanOrEqual(USERS_PER_SLICE);
    }
    const items = jobs.flatMap((job) => job.events);
    // 45 single events, and the toUsers split per partition (16) into slices of at most 500.
    expect(items.filter((e) => e.part.count === 16)).toHaveLength(16);
    expect(items).toHaveLength(45 + 16);
    expect(new Set(items.map((e) => e.eventId))).toEqual(new Set(ids));
  });

  it('wait lingerMs for company, then go as one entry', async () => {
    const publisher = open({ lingerMs: 30, partitions: 1 });
    const first = publisher.toUser(uniqueUser()).emit('xp:gained', xp(1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = publisher.toUser(uniqueUser()).emit('xp:gained', xp(2));
    await Promise.all([first, second]);
    expect(await one.total()).toBe(1);
  });

  it('all reject when Redis refuses the batch, and nothing of it is sequenced', async () => {
    const publisher = open({ partitions: 1 });
    const users = Array.from({ length: 5 }, () => uniqueUser());
    // The stream's key holding a string makes the append fail: the script refuses before taking any seq.
    await one.redis.set(one.keys.stream(0), 'not-a-stream');
    const results = await Promise.allSettled(
      users.map((user, i) => publisher.toUser(user).emit('xp:gained', xp(i))),
    );
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
    for (const user of users)
      expect(await one.redis.exists(one.keys.user(user), one.keys.inbox(user))).toBe(0);

    await one.redis.del(one.keys.stream(0));
    await publisher.toUser(users[0]!).emit('xp:gained', xp(9));
    expect(await one.total()).toBe(1);
    expect((await one.entries())[0]?.seqs).toEqual([[1]]);
  });

  it('refuses batch options out of range', () => {
    for (const options of [
      { maxBatchEvents: 0 },
      { maxBatchEvents: 1.5 },
      { lingerMs: -1 },
      { maxBatchBytes: 0 },
    ]) {
      expect(() => createPublisher({ redisUrl, prefix, ...options })).toThrow(/must be an integer/);
    }
  });

  it('sends what was accepted before close()', async () => {
    const publisher = createPublisher({ redisUrl, prefix, lingerMs: 1_000, partitions: 1 });
    const sent = publisher.toUser(uniqueUser()).emit('xp:gained', xp(1));
    await publisher.close();
    await sent;
    expect(await one.total()).toBe(1);
  });
});
