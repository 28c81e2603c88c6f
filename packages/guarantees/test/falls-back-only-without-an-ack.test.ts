import { describe, expect, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { createPublisher } from '@herald/publisher';
import { uniqueUser, waitFor } from '@herald/testing';
import {
  messageIdOf,
  openQueue,
  recordClient,
  spawnFallbackWorker,
  startFallbackScene,
  unfinishedJobs,
  checksIn,
  useCleanup,
} from './support-fallback.js';

const ACK_TIMEOUT_MS = 1_000;
const EVENTS_PER_USER = 3;

/**
 * Guarantee 5: an event with a fallback policy that a device acked gets no email; one that
 * no device acked within the ack timeout gets exactly one. The fallback worker is started
 * only once every ack the test expects is in Redis, so the outcome never depends on how
 * fast the machine is: the checks wait in the queue until then.
 */
describe('fallback by ack', () => {
  const defer = useCleanup();

  it('emails exactly the events no device acked: none for acked ones, one for each unacked one', async () => {
    const { redisUrl, prefix, target, keys, redis, sink, url } = await startFallbackScene(
      defer,
      'g-h',
      ACK_TIMEOUT_MS,
    );
    const publisher = createPublisher({ redisUrl, prefix });
    defer(() => publisher.close());
    const fallbackQueue = openQueue(QueueName.fallback, redis, prefix, defer);

    // acked: an SDK client that handles and acks everything.
    // stuck: an SDK client (it declares acks) whose handler never returns from seq 2, so it
    //        acks seq 1 and never anything after.
    // offline: no device at all.
    const acked = uniqueUser('acked');
    const stuck = uniqueUser('stuck');
    const offline = uniqueUser('offline');
    const ackedClient = recordClient(url, acked, defer);
    let stuckEntered = 0;
    const stuckClient = recordClient(url, stuck, defer, {
      handler: (seen, payload, meta, event) => {
        seen.push({ kind: 'event', event, payload, meta, at: performance.now() });
        if (meta.seq === 2) {
          stuckEntered += 1;
          return new Promise<void>(() => undefined);
        }
        return undefined;
      },
    });
    await Promise.all([ackedClient.client.ready, stuckClient.client.ready]);

    const address = (user: string) => `${user}@example.com`;
    const users = [acked, stuck, offline];
    for (let n = 1; n <= EVENTS_PER_USER; n++) {
      for (const user of users) {
        await publisher
          .toUser(user)
          .emit(
            'notification:new',
            { notification: { id: `n${n}`, title: `Event ${n}` } },
            { eventId: `h-${user}-${n}`, fallback: { email: address(user) } },
          );
      }
    }

    const ackOf = async (user: string) => Number((await redis.hget(keys.user(user), 'ack')) ?? 0);
    await waitFor(async () => (await ackOf(acked)) === EVENTS_PER_USER, {
      timeoutMs: 20_000,
      message: 'the acking client acked all its events',
    });
    await waitFor(async () => stuckEntered === 1 && (await ackOf(stuck)) === 1, {
      timeoutMs: 20_000,
      message: 'the stuck client acked seq 1 and is inside the handler of seq 2',
    });
    // One check per event (each is for one user), in as many fallback jobs as the dispatcher batched them into.
    const checks = users.length * EVENTS_PER_USER;
    await waitFor(
      async () => (await checksIn(fallbackQueue, ['wait', 'delayed', 'prioritized', 'active'])) === checks,
      {
        timeoutMs: 20_000,
        message: `${checks} fallback checks scheduled`,
      },
    );

    await spawnFallbackWorker(target, sink.url, defer);
    await waitFor(
      async () =>
        (await unfinishedJobs(fallbackQueue)) === 0 &&
        (await checksIn(fallbackQueue, ['completed'])) === checks,
      { timeoutMs: 30_000, message: 'every fallback check ran' },
    );

    const mailed = sink.mails.map((mail) => messageIdOf(mail.raw)).sort();
    const expected = [
      `h-${stuck}-2.${stuck}@herald`,
      `h-${stuck}-3.${stuck}@herald`,
      ...[1, 2, 3].map((n) => `h-${offline}-${n}.${offline}@herald`),
    ].sort();
    expect(mailed).toEqual(expected);
    for (const mail of sink.mails) expect(mail.to).toHaveLength(1);
    expect(await fallbackQueue.getFailedCount()).toBe(0);
    // What the handlers saw: the acked client everything once, the stuck one up to seq 2.
    expect(ackedClient.seqs()).toEqual([1, 2, 3]);
    expect(stuckClient.seqs()).toEqual([1, 2]);
    expect(ackedClient.errors).toEqual([]);
    expect(stuckClient.errors).toEqual([]);

    const count = (user: string) => sink.mails.filter((mail) => mail.to.includes(address(user))).length;
    process.stdout.write(
      `[guarantee h] ${users.length * EVENTS_PER_USER} events with an email fallback (ack timeout ${ACK_TIMEOUT_MS} ms), ${checks} checks: ` +
        `acked by an SDK client 3 → ${count(acked)} emails; SDK client stuck in its handler at seq 2 (acked 1) → ${count(stuck)} emails (seq 2, 3); ` +
        `offline 3 → ${count(offline)} emails; ` +
        `${sink.mails.length} emails in all, 0 duplicates\n`,
    );
  });
});
