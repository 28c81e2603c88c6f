import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EventEntryData, QueueName } from '@herald/contracts';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeQueue, type QueueProbe } from './queue-probe.js';

const redisUrl = inject('redisUrl');

describe('publishing valid events', () => {
  let prefix: string;
  let publisher: Publisher;
  let probe: QueueProbe;

  beforeEach(() => {
    prefix = uniquePrefix('pub');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeQueue(redisUrl, prefix);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it('enqueues one job named for the event, whose data is EventEntryData with the payload as published', async () => {
    const userId = uniqueUser();
    const payload = {
      notification: { id: 'n-1', title: 'Welcome', message: 'Hi', extra: { kept: true } },
      timestamp: 'now',
    };

    const id = await publisher.toUser(userId).emit('notification:new', payload);

    const jobs = await probe.jobs();
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.name).toBe('notification:new');
    expect(job.queueName).toBe(QueueName.events);
    const data = EventEntryData.parse(job.data);
    expect(Object.keys(job.data)).toEqual(['events']);
    expect(data.events).toHaveLength(1);
    expect(data.events[0]).toMatchObject({
      eventId: id,
      event: 'notification:new',
      payload,
      target: { kind: 'users', userIds: [userId] },
      fallback: { channel: 'email' },
      part: { index: 0, count: 1 },
    });
    expect(job.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 1_000 } });
    // The queue lives under the configured prefix, so the dispatcher finds it there.
    expect((await probe.keys()).some((key) => key.startsWith(`${prefix}:${QueueName.events}:`))).toBe(true);
  });

  it('splits a toUsers of 1,200 ids into 3 jobs of at most 500 ids, covering every id once', async () => {
    const userIds = Array.from({ length: 1_200 }, (_, i) => `bulk-${i}`);

    const id = await publisher
      .toUsers(userIds)
      .emit('xp:gained', { amount: 5, source: 'quest', totalXp: 50 });

    const jobs = (await probe.jobs()).map((job) => EventEntryData.parse(job.data));
    expect(jobs).toHaveLength(3);
    const items = jobs.flatMap((job) => job.events).sort((a, b) => a.part.index - b.part.index);
    expect(items.map((item) => item.part)).toEqual([
      { index: 0, count: 3 },
      { index: 1, count: 3 },
      { index: 2, count: 3 },
    ]);
    const sizes = items.map((item) => (item.target.kind === 'users' ? item.target.userIds.length : 0));
    expect(sizes).toEqual([500, 500, 200]);
    expect(items.flatMap((item) => (item.target.kind === 'users' ? item.target.userIds : []))).toEqual(
      userIds,
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
