import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { mintToken, refusal, sleep, uniqueUser, waitFor } from '@herald/testing';
import { createKeys, readStreamBacklog, silentLogger, type RedisClient, type RedisKeys } from '@herald/core';
import { deliverEntry, parseEntry } from '../src/deliver-event.js';
import { createCheckBatcher, type CheckBatcherOptions } from '../src/check-batcher.js';
import { toFallbackJob } from '../src/fallback-jobs.js';
import { device, published, startStack, streamsSettled, useCleanup } from './support.js';

const QUIET_MS = 400;
const notification = (title: string) => ({ notification: { title } });

/** What `deliverEntry` needs to run outside a dispatcher: each entry's checks go to `addJob` at once. */
function deliveryDeps(redis: RedisClient, keys: RedisKeys, addJob: CheckBatcherOptions['addJob']) {
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
    // Again, after the first was delivered, and twice concurrently (one batch, one entry).
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
    // The records last the whole window.
    expect(await redis.ttl(keys.eventRecord(keys.partitionOf(user), 'evt-dup-1', 0))).toBeGreaterThan(
      23 * 3_600,
    );
    expect(await redis.ttl(keys.eventIdClaim('evt-dup-1'))).toBeGreaterThan(23 * 3_600);

    // Offline recipients of the repeated event get one fallback check, from the first publish.
    const offline = uniqueUser('off');
    await publisher.toUser(offline).emit('notification:new', notification('x'), { eventId: 'evt-off' });
    await publisher.toUser(offline).emit('notification:new', notification('x'), { eventId: 'evt-off' });
    const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => fallbackQueue.close());
    // A republish appends nothing: evt-dup-1, the batch of evt-dup-2 twice, evt-other and evt-off.
    expect((await streamsSettled(redis, keys)).added).toBe(4);
    const checks = await waitFor(async () => {
      const found = (await fallbackQueue.getJobs(['delayed'])).flatMap((j) => j.data.checks);
      return found.some((c) => c.eventId === 'evt-off') ? found : undefined;
    });
    expect(checks.filter((c) => c.eventId === 'evt-off').flatMap((c) => c.userIds)).toEqual([offline]);
  });

  it('refuses the eventId reused for another user, and never delivers it to them (nothing of it is appended)', async () => {
    const { urls, publisher, redis, keys } = await startStack(defer, { nodes: 1 });
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

    // The refused publish was stopped at its claim: only the first was appended.
    expect((await streamsSettled(redis, keys)).added).toBe(1);
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
    // 1,200 ids over 16 partitions, the three online users among them.
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

  it('delivers an entry read twice (a dispatcher died before its XACK) with the same seqs both times', async () => {
    const { urls, redis, prefix, publisher } = await startStack(defer, { nodes: 1, dispatcher: false });
    const keys = createKeys(prefix);
    const user = uniqueUser('retry');
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });
    await publisher.toUser(user).emit('notification:new', notification('once'), { eventId: 'evt-retry' });
    // A republish appends nothing: the slice's record is there.
    await publisher.toUser(user).emit('notification:new', notification('once'), { eventId: 'evt-retry' });
    const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => fallbackQueue.close());
    const entries = (await redis.xrange(keys.stream(keys.partitionOf(user)), '-', '+')) as Array<
      [string, string[]]
    >;
    expect(entries).toHaveLength(1);
    expect((await readStreamBacklog(redis, keys)).added).toBe(1);
    const [id, fields] = entries[0]!;

    const deps = deliveryDeps(redis, keys, (checked) => {
      const job = toFallbackJob(checked, { delayMs: 60_000, attempts: 1, backoffMs: 0 });
      return fallbackQueue.add(job.name, job.data, job.opts);
    });
    // The same entry twice (a second delivery after a crash): the same seq on the wire both times.
    expect((await deliverEntry(parseEntry(fields), deps, id)).emitted).toBe(1);
    expect((await deliverEntry(parseEntry(fields), deps, id)).emitted).toBe(1);
    await waitFor(() => published(d).length === 2, { message: 'two emits of the entry' });
    await sleep(QUIET_MS);
    expect(published(d).map((r) => (r.args[1] as { seq: number }).seq)).toEqual([1, 1]);
    expect(await redis.hget(keys.user(user), 'seq')).toBe('1');
    expect(await redis.llen(keys.inbox(user))).toBe(1);
  });
});
