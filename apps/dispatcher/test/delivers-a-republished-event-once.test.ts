import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { mintToken, sleep, uniqueUser, waitFor } from '@herald/testing';
import { claimEvents } from '../src/event-claims.js';
import { device, published, startStack, useCleanup } from './support.js';

const QUIET_MS = 400;
const notification = (title: string) => ({ notification: { title } });

describe('publishing the same eventId twice within 24 h', () => {
  const defer = useCleanup();

  it('delivers it once: published again later, or twice in the same batch', async () => {
    const { urls, publisher, redis, prefix, keys } = await startStack(defer);
    const user = uniqueUser('dup');
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });
    const target = publisher.toUser(user);

    await target.emit('notification:new', notification('first'), { eventId: 'evt-dup-1' });
    await waitFor(() => d.payloads('notification:new').length === 1, { message: 'first delivery' });
    // Again, after the first job completed, and twice concurrently (one batch, one job).
    await target.emit('notification:new', notification('again'), { eventId: 'evt-dup-1' });
    await Promise.all([
      target.emit('notification:new', notification('same tick'), { eventId: 'evt-dup-2' }),
      target.emit('notification:new', notification('same tick'), { eventId: 'evt-dup-2' }),
    ]);
    await target.emit('notification:new', notification('other'), { eventId: 'evt-other' });

    await waitFor(() => d.payloads('notification:new').length >= 3, { message: 'later events delivered' });
    await sleep(QUIET_MS);
    const ids = published(d).map((r) => (r.args[1] as { id: string }).id);
    expect(ids.sort()).toEqual(['evt-dup-1', 'evt-dup-2', 'evt-other']);
    expect(d.payloads('notification:new')[0]).toEqual(notification('first'));
    // The claim lasts the whole window, not the job's lifetime.
    expect(await redis.ttl(keys.eventClaim('evt-dup-1', 0))).toBeGreaterThan(23 * 3_600);

    // Offline recipients of the repeated event get one fallback job, from the first publish.
    const offline = uniqueUser('off');
    await publisher.toUser(offline).emit('notification:new', notification('x'), { eventId: 'evt-off' });
    await publisher.toUser(offline).emit('notification:new', notification('x'), { eventId: 'evt-off' });
    const events = new Queue(QueueName.events, { connection: redis, prefix });
    const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => Promise.all([events.close(), fallbackQueue.close()]));
    await waitFor(async () => ((await events.getJobCounts('completed')).completed ?? 0) >= 6, {
      message: 'every events job completed',
    });
    const returned = (await events.getJobs(['completed'])).map(
      (job) => job.returnvalue as { events: number; skipped: number },
    );
    expect(returned.reduce((n, r) => n + r.skipped, 0)).toBe(3);
    const scheduled = await fallbackQueue.getJobs(['delayed']);
    expect(scheduled.flatMap((j) => (j.data.v === 2 ? j.data.userIds : [j.data.userId]))).toEqual([offline]);
  });

  it('delivers every part of a split toUsers once, to the users of each part', async () => {
    const { urls, publisher } = await startStack(defer);
    const online = [uniqueUser('a'), uniqueUser('b'), uniqueUser('c')];
    const devices = await Promise.all(
      online.map((u, i) => device(urls[i % urls.length] as string, defer, { token: mintToken(u) })),
    );
    // 1,200 ids: the three online users land in parts 0, 1 and 2.
    const userIds = Array.from({ length: 1_200 }, (_, i) => `far-${i}`);
    online.forEach((u, i) => (userIds[i * 500 + 7] = u));
    const payload = notification('maintenance');
    const emit = () => publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    await emit();
    await emit();
    await Promise.all([emit(), emit()]);

    for (const d of devices) {
      await waitFor(() => d.payloads('notification:new').length === 1, { message: 'each part delivered' });
    }
    await sleep(QUIET_MS);
    for (const d of devices) expect(d.payloads('notification:new')).toEqual([payload]);
  });

  it('lets a retry of the job that claimed a part through, and no other job', async () => {
    const { redis, keys } = await startStack(defer, { nodes: 0, dispatcher: false });
    const refs = [
      { eventId: 'e-1', part: 0 },
      { eventId: 'e-1', part: 1 },
    ];
    expect(await claimEvents(redis, keys, 'job-a', refs)).toEqual([true, true]);
    expect(await claimEvents(redis, keys, 'job-a', refs)).toEqual([true, true]);
    expect(await claimEvents(redis, keys, 'job-b', [...refs, { eventId: 'e-2', part: 0 }])).toEqual([
      false,
      false,
      true,
    ]);
    expect(await redis.get(keys.eventClaim('e-1', 1))).toBe('job-a');
  });
});
