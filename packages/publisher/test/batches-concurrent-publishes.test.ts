import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EventEntryData, HeraldError, QueueName, USERS_PER_SLICE } from '@herald/contracts';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeQueue, type QueueProbe } from './queue-probe.js';

const redisUrl = inject('redisUrl');
const xp = (n: number) => ({ amount: n, source: 'batch', totalXp: n });

describe('concurrent publishes', () => {
  let prefix: string;
  let probe: QueueProbe;
  const publishers: Publisher[] = [];
  const open = (options: { maxBatchEvents?: number; lingerMs?: number } = {}) => {
    const publisher = createPublisher({ redisUrl, prefix, ...options });
    publishers.push(publisher);
    return publisher;
  };

  beforeEach(() => {
    prefix = uniquePrefix('batch');
    probe = probeQueue(redisUrl, prefix);
  });

  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((p) => p.close()));
    await probe.close();
  });

  it('share one job, each resolving to its own id; a bad one throws and is not enqueued', async () => {
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
    const jobs = await probe.jobs();
    expect(jobs).toHaveLength(1);
    const data = EventEntryData.parse(jobs[0]!.data);
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

    const jobs = (await probe.jobs()).map((job) => EventEntryData.parse(job.data));
    for (const job of jobs) {
      expect(job.events.length).toBeLessThanOrEqual(20);
      const users = job.events.reduce(
        (n, e) => n + (e.target.kind === 'users' ? e.target.userIds.length : 0),
        0,
      );
      expect(users).toBeLessThanOrEqual(USERS_PER_SLICE);
    }
    const items = jobs.flatMap((job) => job.events);
    expect(items).toHaveLength(45 + 3);
    expect(new Set(items.map((e) => e.eventId))).toEqual(new Set(ids));
  });

  it('wait lingerMs for company, then go as one job', async () => {
    const publisher = open({ lingerMs: 30 });
    const first = publisher.toUser(uniqueUser()).emit('xp:gained', xp(1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = publisher.toUser(uniqueUser()).emit('xp:gained', xp(2));
    await Promise.all([first, second]);
    expect(await probe.total()).toBe(1);
  });

  it('all reject when Redis refuses the batch, and nothing of it is enqueued', async () => {
    const publisher = open();
    // A job-id counter that is not a number makes BullMQ's add script fail inside the MULTI.
    await probe.redis.set(`${prefix}:${QueueName.events}:id`, 'not-a-number');
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => publisher.toUser(uniqueUser()).emit('xp:gained', xp(i))),
    );
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
    expect(await probe.total()).toBe(0);

    await probe.redis.del(`${prefix}:${QueueName.events}:id`);
    await publisher.toUser(uniqueUser()).emit('xp:gained', xp(9));
    expect(await probe.total()).toBe(1);
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
    const publisher = createPublisher({ redisUrl, prefix, lingerMs: 1_000 });
    const sent = publisher.toUser(uniqueUser()).emit('xp:gained', xp(1));
    await publisher.close();
    await sent;
    expect(await probe.total()).toBe(1);
  });
});
