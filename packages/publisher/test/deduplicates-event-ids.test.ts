import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { closeRedis, createRedis } from '@herald/core';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeQueue, type QueueProbe } from './queue-probe.js';

const redisUrl = inject('redisUrl');

describe('publishing the same eventId twice', () => {
  let prefix: string;
  let publisher: Publisher;
  let probe: QueueProbe;

  beforeEach(() => {
    prefix = uniquePrefix('dedup');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeQueue(redisUrl, prefix);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it('enqueues the event once and resolves to the same id both times', async () => {
    const target = publisher.toUser(uniqueUser());
    const payload = { achievementId: 'ach-1', title: 'First login' };

    const first = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });
    const second = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });

    expect([first, second]).toEqual(['evt-dup-1', 'evt-dup-1']);
    expect(await probe.total()).toBe(1);
  });

  it('deduplicates every part of a split toUsers', async () => {
    const userIds = Array.from({ length: 1_200 }, (_, i) => `d-${i}`);
    const payload = { notification: { title: 'Maintenance tonight' } };
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    expect(await probe.total()).toBe(3);
  });

  it('still enqueues once after the first job was processed (the window is 24 h, not the job lifetime)', async () => {
    const connection = createRedis(redisUrl);
    const worker = new Worker(QueueName.events, () => Promise.resolve('done'), { connection, prefix });
    try {
      const target = publisher.toUser(uniqueUser());
      await target.emit(
        'xp:gained',
        { amount: 1, source: 'test', totalXp: 1 },
        { eventId: 'evt-after-done' },
      );
      await waitFor(async () => (await probe.queue.getJobCounts('completed')).completed === 1, {
        message: 'first job completed',
      });

      await target.emit(
        'xp:gained',
        { amount: 1, source: 'test', totalXp: 1 },
        { eventId: 'evt-after-done' },
      );

      expect(await probe.queue.getJobCounts('waiting', 'active', 'completed', 'delayed')).toEqual({
        waiting: 0,
        active: 0,
        completed: 1,
        delayed: 0,
      });
      const ttl = await probe.redis.pttl(`${prefix}:${QueueName.events}:de:evt-after-done.p0`);
      expect(ttl).toBeGreaterThan(23 * 3_600_000);
    } finally {
      await worker.close();
      await closeRedis(connection);
    }
  });

  it('enqueues different eventIds separately', async () => {
    const target = publisher.toUser(uniqueUser());
    await target.emit('xp:gained', { amount: 1, source: 'a', totalXp: 1 }, { eventId: 'evt-a' });
    await target.emit('xp:gained', { amount: 1, source: 'a', totalXp: 1 }, { eventId: 'evt-b' });
    await target.emit('xp:gained', { amount: 1, source: 'a', totalXp: 1 });
    await target.emit('xp:gained', { amount: 1, source: 'a', totalXp: 1 });
    expect(await probe.total()).toBe(4);
  });
});
