import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { closeRedis, createKeys, createRedis } from '@herald/core';
import { createPublisher } from '@herald/publisher';
import { startRedisServer, uniquePrefix, uniqueUsersOfOnePartition, waitFor } from '@herald/testing';
import {
  ms,
  openQueue,
  percentile,
  recordClient,
  spawnDispatcher,
  spawnFallbackWorker,
  spawnSocketNode,
  startHoldingSmtpSink,
  unfinishedJobs,
  useCleanup,
  type AcceptedMail,
} from './support-fallback.js';

const EVENTS = 16;
const OFFLINE_USERS = 5;
/** Fallback jobs the worker runs at once; each sends to its event's 5 users at once. */
const CONCURRENCY = 4;
/** Emails the SMTP server accepts at once before it starts holding its replies. */
const ACCEPTED_FIRST = CONCURRENCY * OFFLINE_USERS;

/** Whether a process is stopped (SIGSTOP), from /proc (Linux). */
async function isStopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Field 3, after the parenthesised command name.
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
}

/** Total length of the union of intervals. */
function unionLength(intervals: Array<[number, number]>): number {
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [from, to] of [...intervals].sort((a, b) => a[0] - b[0])) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

/**
 * Guarantee 6 for the fallback worker. Sixteen events with an email fallback go to five
 * offline users and one user whose SDK client acks them. The worker is SIGKILLed while it
 * sends: the SMTP server holds its replies, so twenty messages are in flight, unaccepted.
 * Just before the kill the worker is frozen (SIGSTOP) and one of the twenty is accepted:
 * that is the window the design leaves open (SMTP accepted, `fallback-sent` mark not yet
 * written), hit on purpose. A new worker then takes over the killed jobs.
 *
 * Outcome: every unacked (event, user) pair ends with an email, never zero; exactly one,
 * except the pair accepted inside the window, which gets a second copy with the same
 * Message-ID. The window's width is measured on every other send: from the moment the
 * server wrote its 250 to the moment the mark's SET reached Redis (seen through keyspace
 * notifications of a private Redis, so the figure is an upper bound).
 */
describe('a fallback worker killed while it sends', () => {
  const defer = useCleanup();

  it('leaves every unacked event with exactly one email, except one sent inside the measured window', async () => {
    // A private Redis: keyspace notifications are a server setting a test must not change on a shared one.
    const server = await startRedisServer({ args: ['--notify-keyspace-events', 'K$'] });
    defer(() => server.stop());
    const redisUrl = server.url;
    const prefix = uniquePrefix('g-c');
    const target = { redisUrl, prefix };
    const keys = createKeys(prefix);
    const redis = createRedis(redisUrl);
    defer(() => closeRedis(redis));

    // When each fallback-sent mark was written, as this process sees the SET.
    const markedAt = new Map<string, number[]>();
    const notifications = createRedis(redisUrl);
    defer(() => closeRedis(notifications));
    const channelPrefix = '__keyspace@0__:';
    notifications.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (message !== 'set') return;
      const key = channel.slice(channelPrefix.length);
      const times = markedAt.get(key) ?? [];
      times.push(performance.now());
      markedAt.set(key, times);
    });
    await notifications.psubscribe(`${channelPrefix}${keys.fallbackSentPattern}`);

    const sink = await startHoldingSmtpSink();
    defer(() => sink.close());
    const [{ url }] = await Promise.all([
      spawnSocketNode(target, defer),
      // One fallback job per event (no shared check jobs): the kill lands among sends of known jobs.
      spawnDispatcher(target, defer, {
        HERALD_ACK_TIMEOUT_MS: '1000',
        HERALD_DISPATCHER_CHECK_LINGER_MS: '0',
      }),
    ]);
    const publisher = createPublisher({ redisUrl, prefix });
    defer(() => publisher.close());
    const fallbackQueue = openQueue(QueueName.fallback, redis, prefix, defer);

    // One partition for all: each event is one stream entry, so one fallback job.
    const [acking = '', ...offline] = uniqueUsersOfOnePartition(OFFLINE_USERS + 1, keys.partitionOf, 'off');
    const device = recordClient(url, acking, defer);
    await device.client.ready;
    const run = crypto.randomUUID().slice(0, 6);
    const eventIds = Array.from({ length: EVENTS }, (_, i) => `c${i + 1}-${run}`);
    for (const [i, eventId] of eventIds.entries()) {
      await publisher
        .toUsers([...offline, acking])
        .emit(
          'notification:new',
          { notification: { title: `Event ${i + 1}` } },
          { eventId, fallback: { email: 'fallback@example.com' } },
        );
    }
    // The worker starts once the acking user's acks are in Redis: its checks never race them.
    await waitFor(async () => (await redis.hget(keys.user(acking), 'ack')) === String(EVENTS), {
      timeoutMs: 30_000,
      message: 'the SDK client acked every event',
    });
    await waitFor(async () => (await unfinishedJobs(fallbackQueue)) === EVENTS, {
      timeoutMs: 30_000,
      message: 'one fallback check per event',
    });

    // About the first CONCURRENCY jobs' emails are accepted at once; the next ones are held.
    sink.acceptUpTo(ACCEPTED_FIRST);
    const first = await spawnFallbackWorker(target, sink.url, defer, {
      HERALD_FALLBACK_CONCURRENCY: String(CONCURRENCY),
    });
    /** The fallback-sent mark of a mail's (event, user), from its Message-ID `<eventId.userId@herald>`. */
    const markKey = (mail: AcceptedMail) => {
      const [eventId, userId] = (mail.messageId ?? '').replace(/@herald$/, '').split('.') as [string, string];
      return keys.fallbackSent(eventId, userId);
    };
    const markAfter = (mail: AcceptedMail) => markedAt.get(markKey(mail))?.find((t) => t >= mail.acceptedAt);
    // Quiet: every accepted email has its mark, and each of the worker's active jobs has
    // handed all its emails to the server (accepted, or waiting for the held reply).
    const handedOver = async () => {
      if (sink.mails.length < ACCEPTED_FIRST || sink.held.length === 0) return false;
      if (!sink.mails.every((mail) => markAfter(mail) !== undefined)) return false;
      const active = await fallbackQueue.getJobs(['active']);
      const atServer = new Set([...sink.mails, ...sink.held].map((mail) => mail.messageId));
      return (
        active.length === CONCURRENCY &&
        active.every((job) =>
          (job.data as FallbackJobData).checks.every((check) =>
            offline.every((userId) => atServer.has(`${check.eventId}.${userId}@herald`)),
          ),
        )
      );
    };
    await waitFor(handedOver, {
      timeoutMs: 30_000,
      message: `${ACCEPTED_FIRST} emails accepted and marked, the active jobs' next emails in flight`,
    });
    const inFlight = sink.held.length;

    // Freeze the worker, accept one message it has in flight, then kill it: that message is
    // accepted by the SMTP server but the worker never learns it, so no mark is written.
    const pid = first.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    await waitFor(() => isStopped(pid), { message: 'the worker is frozen' });
    const inWindow = await sink.held[0]?.accept();
    if (!inWindow) throw new Error('the held message had lost its connection');
    const killedAt = performance.now();
    expect(await first.stop('SIGKILL')).toBeNull();
    await waitFor(() => sink.held.length === 0, { message: 'the killed sends closed their connections' });
    const droppedByKill = sink.dropped;
    const acceptedBeforeKill = sink.mails.length;

    sink.acceptUpTo(Number.POSITIVE_INFINITY);
    await spawnFallbackWorker(target, sink.url, defer, { HERALD_FALLBACK_CONCURRENCY: String(CONCURRENCY) });
    // The killed jobs come back once BullMQ sees them stalled (their lock expires, then a stalled check runs).
    await waitFor(
      async () =>
        (await unfinishedJobs(fallbackQueue)) === 0 && (await fallbackQueue.getCompletedCount()) === EVENTS,
      { timeoutMs: 150_000, intervalMs: 250, message: 'every fallback job completed after the restart' },
    );
    const lastResent = Math.max(...sink.mails.slice(acceptedBeforeKill).map((mail) => mail.acceptedAt));

    // Every unacked (event, user) pair: at least one email, never zero; exactly one except the window's.
    const perPair = new Map<string, number>();
    for (const mail of sink.mails)
      perPair.set(mail.messageId ?? '?', (perPair.get(mail.messageId ?? '?') ?? 0) + 1);
    const expectedPairs = eventIds.flatMap((eventId) =>
      offline.map((userId) => `${eventId}.${userId}@herald`),
    );
    const counts = expectedPairs.map((pair) => perPair.get(pair) ?? 0);
    expect(counts.filter((n) => n === 0)).toHaveLength(0);
    expect([...perPair.keys()].sort()).toEqual([...expectedPairs].sort());
    const twice = expectedPairs.filter((pair) => perPair.get(pair) === 2);
    expect(twice).toEqual([inWindow.messageId]);
    expect(counts.filter((n) => n === 1)).toHaveLength(expectedPairs.length - 1);
    expect(sink.mails).toHaveLength(expectedPairs.length + 1);
    expect(sink.mails.filter((mail) => mail.messageId?.includes(acking))).toHaveLength(0);
    expect(droppedByKill).toBe(inFlight - 1);
    expect(await fallbackQueue.getFailedCount()).toBe(0);

    // The window on every send the worker lived through: 250 written → mark's SET seen.
    const measured = sink.mails.filter((mail) => mail !== inWindow && mail.messageId !== inWindow.messageId);
    const widths = measured.map((mail) => (markAfter(mail) as number) - mail.acceptedAt);
    expect(widths.every(Number.isFinite)).toBe(true);
    // Of the time some email was being sent (connection opened → its mark written), the share
    // during which some email sat inside its window: how often a kill at a random instant hits one.
    const windows = measured.map((mail): [number, number] => [mail.acceptedAt, markAfter(mail) as number]);
    const sending = measured.map((mail): [number, number] => [mail.connectedAt, markAfter(mail) as number]);
    const openShare = unionLength(windows) / unionLength(sending);

    const line = (text: string) => process.stdout.write(`[guarantee c] ${text}\n`);
    line(
      `${EVENTS} events with an email fallback to ${OFFLINE_USERS} offline users + 1 user whose SDK client acked them; ` +
        `worker (concurrency ${CONCURRENCY}) SIGKILLed with ${inFlight} sends in flight: ${droppedByKill} unaccepted (dropped with the worker, sent again), ` +
        `1 accepted by SMTP while the worker was frozen just before the kill (inside the window)`,
    );
    line(
      `emails: ${sink.mails.length} for ${expectedPairs.length} unacked (event, user) pairs: ${counts.filter((n) => n === 0).length} pairs with none, ` +
        `${counts.filter((n) => n === 1).length} with exactly one, ${twice.length} with two (the one accepted inside the window; both copies Message-ID <${inWindow.messageId}>); ` +
        `${sink.mails.filter((mail) => mail.messageId?.includes(acking)).length} to the acking user`,
    );
    line(
      `window for a second copy = SMTP 250 written → fallback-sent mark SET seen by a keyspace-notification subscriber (upper bound), over ${widths.length} sends: ` +
        `min ${ms(Math.min(...widths))}, median ${ms(percentile(widths, 50))}, p90 ${ms(percentile(widths, 90))}, max ${ms(Math.max(...widths))}; ` +
        `some email was inside its window during ${(openShare * 100).toFixed(1)}% of the time emails were being sent (SMTP connect → mark): a kill at a random instant while sending lands in a window that often`,
    );
    line(
      `recovery: the killed jobs' emails went out ${((lastResent - killedAt) / 1000).toFixed(1)} s after the kill ` +
        `(the lock expires after HERALD_FALLBACK_LOCK_MS, 10 s; stalled jobs are looked for every 5 s)`,
    );
  });
});
