import { describe, expect, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { createPublisher } from '@herald/publisher';
import { readStreamBacklog } from '@herald/core';
import { uniqueUser, waitFor } from '@herald/testing';
import {
  messageIdOf,
  openQueue,
  recordClient,
  spawnFallbackWorker,
  startFallbackScene,
  unfinishedJobs,
  useCleanup,
} from './support-fallback.js';

const ACK_TIMEOUT_MS = 1_000;

const note = (title: string) => ({ notification: { title } });

/**
 * Idempotency (issue 3, item 5): publishing the same eventId again within 24 h, one after
 * the other, at the same time from one publisher (one batch) or from two (two transactions),
 * or after it was delivered and its fallback sent, gives one seq, one delivery and at most
 * one email.
 */
describe('a republished event', () => {
  const defer = useCleanup();

  it('gets one seq, reaches the device once and produces at most one email, however it is repeated', async () => {
    const { redisUrl, prefix, target, keys, redis, sink, url } = await startFallbackScene(
      defer,
      'g-g',
      ACK_TIMEOUT_MS,
    );
    // Two producers with their own connections: their publishes of one id race as two MULTIs.
    const first = createPublisher({ redisUrl, prefix });
    const second = createPublisher({ redisUrl, prefix });
    defer(() => Promise.all([first.close(), second.close()]));
    const fallbackQueue = openQueue(QueueName.fallback, redis, prefix, defer);
    const settled = async () =>
      (await readStreamBacklog(redis, keys)).settled && (await unfinishedJobs(fallbackQueue)) === 0;

    const online = uniqueUser('online');
    const offline = uniqueUser('offline');
    const device = recordClient(url, online, defer);
    await device.client.ready;
    const fallback = (user: string) => ({ fallback: { email: `${user}@example.com` } });
    let publishes = 0;
    // A repeat carries the same event, target and payload: a retry, deduped (another payload
    // under the same id is refused with event_id_conflict).
    const publish = (publisher: typeof first, user: string, eventId: string) => {
      publishes += 1;
      return publisher.toUser(user).emit('notification:new', note(eventId), { eventId, ...fallback(user) });
    };

    for (const user of [online, offline]) {
      // Again once the first is delivered (sequentially, same publisher).
      await publish(first, user, `g-seq-${user}`);
      await publish(first, user, `g-seq-${user}`);
      // Twice in the same tick from one publisher: one batch, one entry.
      await Promise.all([publish(first, user, `g-batch-${user}`), publish(first, user, `g-batch-${user}`)]);
      // From two publishers at once: two transactions race.
      await Promise.all([publish(first, user, `g-race-${user}`), publish(second, user, `g-race-${user}`)]);
    }
    await device.untilSeq(3);
    // The fallback worker starts once the online device's acks are in Redis (the checks wait
    // in the queue meanwhile), so whether it acked in time never depends on the machine's speed.
    await waitFor(async () => (await redis.hget(keys.user(online), 'ack')) === '3', {
      timeoutMs: 20_000,
      message: 'the online device acked its three events',
    });
    await spawnFallbackWorker(target, sink.url, defer);
    await waitFor(settled, { timeoutMs: 30_000, message: 'every stream entry and fallback check finished' });
    await waitFor(() => sink.mails.length >= 3, { message: 'the offline user got its emails' });

    // And once more, everything, after the fallback emails went out.
    for (const user of [online, offline]) {
      for (const kind of ['seq', 'batch', 'race']) {
        await publish(second, user, `g-${kind}-${user}`);
      }
    }
    // The repeats appended nothing (their claims and records were there); wait for the queues anyway.
    await waitFor(settled, {
      timeoutMs: 30_000,
      message: 'the late repeats were processed',
    });

    const ids = ['seq', 'batch', 'race'];
    // One delivery each, in publish order, with one seq each: on the wire and in the handlers.
    expect(device.ids()).toEqual(ids.map((kind) => `g-${kind}-${online}`));
    expect(device.seqs()).toEqual([1, 2, 3]);
    // (Emits of different entries may cross on the wire; the handlers above got them in seq order.)
    expect(device.wire.map((w) => [w.id, w.seq]).sort(([, a], [, b]) => Number(a) - Number(b))).toEqual(
      ids.map((kind, i) => [`g-${kind}-${online}`, i + 1]),
    );
    const titles = device.seen.map((s) =>
      s.kind === 'event' ? (s.payload as ReturnType<typeof note>).notification.title : null,
    );
    expect(titles).toEqual(ids.map((kind) => `g-${kind}-${online}`));
    for (const user of [online, offline]) {
      expect(await redis.hget(keys.user(user), 'seq')).toBe('3');
      expect(await redis.llen(keys.inbox(user))).toBe(3);
    }
    // The online user acked all three: no email. The offline one: exactly one per event id.
    expect(Number(await redis.hget(keys.user(online), 'ack'))).toBe(3);
    const mailed = sink.mails.map((mail) => messageIdOf(mail.raw)).sort();
    expect(mailed).toEqual(ids.map((kind) => `g-${kind}-${offline}.${offline}@herald`).sort());
    expect(await fallbackQueue.getFailedCount()).toBe(0);
    expect(device.errors).toEqual([]);

    process.stdout.write(
      `[guarantee g] 3 event ids × 2 users published ${publishes} times (again after delivery, twice in one batch, twice from two publishers at once, once more after the emails): ` +
        `online user: ${device.wire.length} emits on the wire, ${device.seen.length} handled, seqs ${device.seqs().join(',')}, 0 emails; ` +
        `offline user: seq counter ${await redis.hget(keys.user(offline), 'seq')}, ${sink.mails.length} emails (one per event id)\n`,
    );
  });
});
