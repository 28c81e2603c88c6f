import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { mintToken, refusal, sleep, uniqueUser, waitFor } from '@herald/testing';
import { createKeys, readEventRecords, silentLogger, type Redis, type RedisKeys } from '@herald/core';
import { deliverEvent } from '../src/deliver-event.js';
import { createCheckBatcher, type CheckBatcherOptions } from '../src/check-batcher.js';
import { toFallbackJob } from '../src/fallback-jobs.js';
import { device, published, startStack, useCleanup } from './support.js';

const QUIET_MS = 400;
const notification = (title: string) => ({ notification: { title } });

/** What `deliverEvent` needs to run outside a dispatcher: each events job's checks go to `addJob` at once. */
function deliveryDeps(redis: Redis, keys: RedisKeys, addJob: CheckBatcherOptions['addJob']) {
  const checks = createCheckBatcher({ lingerMs: 0, maxWaiters: 1, maxUsers: 1, maxChecks: 200, addJob });
  return { redis, keys, checks, logger: silentLogger() };
}

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
    await target.emit('notification:new', notification('first'), { eventId: 'evt-dup-1' });
    await Promise.all([
      target.emit('notification:new', notification('same tick'), { eventId: 'evt-dup-2' }),
      target.emit('notification:new', notification('same tick'), { eventId: 'evt-dup-2' }),
    ]);
    await target.emit('notification:new', notification('other'), { eventId: 'evt-other' });

    await waitFor(() => d.payloads('notification:new').length >= 3, { message: 'later events delivered' });
    await sleep(QUIET_MS);
    const metas = published(d).map((r) => r.args[1] as { id: string; seq: number });
    expect(metas.map((m) => [m.id, m.seq])).toEqual([
      ['evt-dup-1', 1],
      ['evt-dup-2', 2],
      ['evt-other', 3],
    ]);
    // One seq and one inbox entry per event id, not per publish.
    expect(await redis.hget(keys.user(user), 'seq')).toBe('3');
    expect(await redis.llen(keys.inbox(user))).toBe(3);
    // The record lasts the whole window, not the job's lifetime.
    expect(await redis.ttl(keys.eventRecord('evt-dup-1', 0))).toBeGreaterThan(23 * 3_600);

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
    const checks = (await fallbackQueue.getJobs(['delayed'])).flatMap((j) => j.data.checks);
    expect(checks.filter((c) => c.eventId === 'evt-off').flatMap((c) => c.userIds)).toEqual([offline]);
  });

  it('refuses the eventId reused for another user, and never delivers it to them (its job skips the pair)', async () => {
    const { urls, publisher, redis, prefix, keys } = await startStack(defer, { nodes: 1 });
    const [victim, other] = [uniqueUser('victim'), uniqueUser('other')];
    const devices = await Promise.all(
      [victim, other].map((u) => device(urls[0] as string, defer, { token: mintToken(u) })),
    );
    await publisher.toUser(victim).emit('notification:new', notification('hi'), { eventId: 'evt-reuse' });
    const error = await refusal(() =>
      publisher.toUser(other).emit('notification:new', notification('hi'), { eventId: 'evt-reuse' }),
    );
    expect(error.code).toBe('event_id_conflict');
    expect(error.issues.map((i) => i.path)).toEqual(['to']);

    // The refused publish's job went in with the pair claimed by the first job: it delivers nothing.
    const events = new Queue(QueueName.events, { connection: redis, prefix });
    defer(() => events.close());
    await waitFor(async () => ((await events.getJobCounts('completed')).completed ?? 0) === 2, {
      message: 'both events jobs completed',
    });
    const returned = (await events.getJobs(['completed'])).map(
      (job) => job.returnvalue as { events: number; skipped: number },
    );
    expect(returned.map((r) => r.skipped).sort()).toEqual([0, 1]);
    await sleep(QUIET_MS);
    expect(devices.map((d) => d.payloads('notification:new').length)).toEqual([1, 0]);
    expect(await redis.llen(keys.inbox(other))).toBe(0);
    expect(await redis.hget(keys.user(other), 'seq')).toBeNull();
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

  it('redelivers a retried job with the same seqs, and skips the pair in any other job', async () => {
    const { urls, redis, prefix, publisher } = await startStack(defer, { nodes: 1, dispatcher: false });
    const keys = createKeys(prefix);
    const user = uniqueUser('retry');
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });
    await publisher.toUser(user).emit('notification:new', notification('once'), { eventId: 'evt-retry' });
    const events = new Queue(QueueName.events, { connection: redis, prefix });
    const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => Promise.all([events.close(), fallbackQueue.close()]));
    const [job] = await events.getJobs(['waiting']);
    if (!job?.id) throw new Error('the publish queued no job');
    const [record] = await readEventRecords(redis, keys, [{ eventId: 'evt-retry', part: 0 }]);
    expect(record).toMatchObject({ jobId: job.id, seqs: [1] });

    const deps = deliveryDeps(redis, keys, (checked) => {
      const job = toFallbackJob(checked, { delayMs: 60_000, attempts: 1, backoffMs: 0 });
      return fallbackQueue.add(job.name, job.data, job.opts);
    });
    // The same job twice (a redelivery after a crash): the same seq on the wire both times.
    expect((await deliverEvent(job.data, deps, job.id)).skipped).toBe(0);
    expect((await deliverEvent(job.data, deps, job.id)).skipped).toBe(0);
    // Any other job carrying the pair (a republish) skips it.
    expect((await deliverEvent(job.data, deps, 'another-job')).skipped).toBe(1);
    await waitFor(() => published(d).length === 2, { message: 'two emits of the retried job' });
    await sleep(QUIET_MS);
    expect(published(d).map((r) => (r.args[1] as { seq: number }).seq)).toEqual([1, 1]);
    expect(await redis.hget(keys.user(user), 'seq')).toBe('1');
    expect(await redis.llen(keys.inbox(user))).toBe(1);
  });
});
