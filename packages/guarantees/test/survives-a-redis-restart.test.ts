import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { closeRedis, createKeys, createRedis } from '@herald/core';
import { createPublisher } from '@herald/publisher';
import {
  sleep,
  startRedisServer,
  startSmtpSink,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type RedisServerChild,
} from '@herald/testing';
import {
  messageIdOf,
  openQueue,
  range,
  recordClient,
  repeats,
  spawnDispatcher,
  spawnFallbackWorker,
  spawnSocketNode,
  unfinishedJobs,
  useCleanup,
  type RecordedClient,
} from './support-fallback.js';

const USERS = 6;
/** Pause between two publishes of one producer: steady traffic, not a flood, on two shared cores. */
const PACE_MS = 20;
/** Events each user handles before Redis is killed, and at least after it is back. */
const BEFORE_KILL = 20;
const AFTER_RESTART = 20;
/**
 * How long Redis stays down: every process sees it gone, and it outlasts the producers'
 * publish timeout, so publishes are retried while their first attempt still waits in the
 * connection's queue (both then reach Redis: the eventId makes the second a no-op).
 */
const OUTAGE_MS = 3_000;
/** A publish that has not settled by then is tried again, with the same eventId. */
const PUBLISH_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** totalXp of each event the app handled, in order (each event carries its publish number). */
const numbers = (device: RecordedClient) =>
  device.seen.flatMap((s) => (s.kind === 'event' ? [(s.payload as { totalXp: number }).totalXp] : []));

/**
 * Redis (appendonly, fsync on every write) is SIGKILLed while events flow and started
 * again on the same port and directory. Nothing is restarted by hand: the socket node,
 * dispatcher and fallback worker (child processes), the publisher and the SDK clients all
 * reconnect by themselves. Producers publish each event until it is accepted, retrying a
 * failed or unanswered publish with the same eventId, as the README tells them to.
 *
 * Outcome: every event reaches its user's handlers once, in publish order, with no gap;
 * every ack Redis had taken before the kill is still there after it; new events (and a
 * fallback email) keep coming after the restart.
 */
describe('a Redis restart while events flow', () => {
  const defer = useCleanup();

  it('loses nothing acked and resumes delivery with no manual action', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-redis-restart-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let server: RedisServerChild = await startRedisServer({ args });
    defer(() => server.stop());
    const redisUrl = server.url;
    const prefix = uniquePrefix('g-d');
    const target = { redisUrl, prefix };
    const keys = createKeys(prefix);
    const redis = createRedis(redisUrl);
    redis.on('error', () => undefined);
    defer(() => closeRedis(redis));
    const sink = await startSmtpSink();
    defer(() => sink.close());
    const [{ url, app: node }, dispatcher, worker] = await Promise.all([
      spawnSocketNode(target, defer),
      spawnDispatcher(target, defer, { HERALD_ACK_TIMEOUT_MS: '1500' }),
      spawnFallbackWorker(target, sink.url, defer),
    ]);
    const publisher = createPublisher({ redisUrl, prefix });
    defer(() => publisher.close());
    const fallbackQueue = openQueue(QueueName.fallback, redis, prefix, defer);

    const users = Array.from({ length: USERS }, () => uniqueUser('d'));
    const devices = users.map((user) => recordClient(url, user, defer));
    await Promise.all(devices.map((d) => d.client.ready));

    // Producers: one per user, each publish awaited (so publish order is seq order), paced.
    let running = true;
    let retries = 0;
    const retryReasons = new Map<string, number>();
    const published = users.map(() => 0);
    /** Per user, the first number whose publish started once Redis was back. */
    const firstAfterRestart: Array<number | undefined> = users.map(() => undefined);
    let restarted = false;
    const producers = users.map(async (user, u) => {
      for (let n = 1; running; n++) {
        if (restarted) firstAfterRestart[u] ??= n;
        const eventId = `d-${user}-${n}`;
        for (;;) {
          try {
            await withTimeout(
              publisher
                .toUser(user)
                .emit('xp:gained', { amount: 1, source: `n${n}`, totalXp: n }, { eventId }),
              PUBLISH_TIMEOUT_MS,
            );
            break;
          } catch (error) {
            retries += 1;
            const reason = (error as Error).message.slice(0, 60);
            retryReasons.set(reason, (retryReasons.get(reason) ?? 0) + 1);
            await sleep(100);
          }
        }
        published[u] = n;
        await sleep(PACE_MS);
      }
    });

    await waitFor(() => devices.every((d) => d.client.lastSeq >= BEFORE_KILL), {
      timeoutMs: 60_000,
      message: `every user handled ${BEFORE_KILL} events`,
    });
    // One event with a fallback to an offline user just before the kill: its check is due after it.
    const offline = uniqueUser('offline');
    await publisher
      .toUser(offline)
      .emit(
        'notification:new',
        { notification: { title: 'before' } },
        { eventId: `d-fb-before-${offline}`, fallback: { email: 'd@example.com' } },
      );
    // What Redis has acknowledged (and, with appendfsync always, written to disk) before the kill.
    const before = await Promise.all(users.map((user) => redis.hgetall(keys.user(user))));
    const publishedBeforeKill = published.reduce((a, b) => a + b, 0);

    const killedAt = performance.now();
    const exited = once(server.process, 'exit');
    server.process.kill('SIGKILL');
    await exited;
    await sleep(OUTAGE_MS);
    server = await startRedisServer({ port: server.port, args });
    const readyAt = performance.now();
    restarted = true;

    // The AOF brought back every seq and ack Redis had taken.
    const after = await Promise.all(users.map((user) => redis.hgetall(keys.user(user))));
    users.forEach((_, u) => {
      expect(Number(after[u]?.seq)).toBeGreaterThanOrEqual(Number(before[u]?.seq));
      expect(Number(after[u]?.ack)).toBeGreaterThanOrEqual(Number(before[u]?.ack));
      expect(Number(before[u]?.ack)).toBeGreaterThan(0);
    });

    await waitFor(
      () =>
        devices.every((d, u) => (firstAfterRestart[u] ?? Infinity) + AFTER_RESTART - 1 <= d.client.lastSeq),
      {
        timeoutMs: 90_000,
        message: `every user handled ${AFTER_RESTART} events published after the restart`,
      },
    );
    await publisher
      .toUser(offline)
      .emit(
        'notification:new',
        { notification: { title: 'after' } },
        { eventId: `d-fb-after-${offline}`, fallback: { email: 'd@example.com' } },
      );
    running = false;
    await Promise.all(producers);

    // Drain: every handler reaches its user's last seq, every ack is recorded, both checks ran.
    for (const [u, d] of devices.entries()) await d.untilSeq(published[u] as number, 60_000);
    await waitFor(
      async () => {
        const acks = await Promise.all(users.map((user) => redis.hget(keys.user(user), 'ack')));
        return acks.every((ack, u) => Number(ack) === published[u]);
      },
      { timeoutMs: 30_000, message: 'every handled event acked in Redis' },
    );
    await waitFor(async () => (await unfinishedJobs(fallbackQueue)) === 0 && sink.mails.length >= 2, {
      timeoutMs: 60_000,
      message: 'both fallback emails sent',
    });

    for (const [u, d] of devices.entries()) {
      const total = published[u] as number;
      // Every published event once, in publish order, with contiguous seqs and no gap.
      expect(numbers(d)).toEqual(range(1, total));
      expect(d.seqs()).toEqual(range(1, total));
      expect(d.gaps()).toEqual([]);
      expect(Number(await redis.hget(keys.user(users[u] as string), 'seq'))).toBe(total);
      expect(await publisher.isUserConnected(users[u] as string)).toBe(true);
    }
    expect(sink.mails.map((mail) => messageIdOf(mail.raw)).sort()).toEqual(
      [`d-fb-after-${offline}.${offline}@herald`, `d-fb-before-${offline}.${offline}@herald`].sort(),
    );
    for (const app of [node, dispatcher, worker]) expect(app.child.exitCode).toBeNull();

    const handledAfter = devices.map((d) => d.seen.find((s) => s.at >= readyAt)?.at ?? Infinity);
    const wire = devices.reduce((n, d) => n + d.wire.length, 0);
    const duplicates = devices.reduce((n, d) => n + repeats(d.wire.map((w) => w.seq)), 0);
    const replayed = devices.reduce((n, d) => n + d.wire.filter((w) => w.replayed).length, 0);
    // Events whose live emit never arrived (it went out while a node's subscription was down):
    // they reached the handlers only because a later event showed the hole and the SDK synced.
    const lostLive = devices.reduce((n, d) => {
      const live = new Set(d.wire.filter((w) => !w.replayed).map((w) => w.seq));
      return n + d.seqs().filter((seq) => !live.has(seq)).length;
    }, 0);
    const errors = devices.flatMap((d) => d.errors.map((e) => `${e.source}:${e.error.code}`));
    const total = published.reduce((a, b) => a + b, 0);
    const line = (text: string) => process.stdout.write(`[guarantee d] ${text}\n`);
    line(
      `${USERS} users, ${total} events published (${publishedBeforeKill} before the kill), ${retries} publish retries with the same eventId` +
        `${retryReasons.size > 0 ? ` (${[...retryReasons].map(([r, n]) => `${n}× "${r}"`).join(', ')})` : ''}; ` +
        `redis-server (appendonly, appendfsync always) SIGKILLed and started again on the same port and dir`,
    );
    line(
      `outage (kill → new server answers PING) ${(readyAt - killedAt).toFixed(0)} ms; deliveries resumed ${(Math.min(...handledAfter) - readyAt).toFixed(0)} ms after Redis answered, ` +
        `all ${USERS} clients ${(Math.max(...handledAfter) - readyAt).toFixed(0)} ms after`,
    );
    line(
      `handlers: ${devices.reduce((n, d) => n + d.seqs().length, 0)} of ${total} events, each once and in order (0 lost, 0 gaps); ` +
        `wire: ${wire} emits, ${duplicates} duplicates dropped by the SDK, ${replayed} replayed through sync, ${lostLive} events whose live emit was lost (brought back by sync); ` +
        `acked seqs before the kill ${before.reduce((n, h) => n + Number(h.ack), 0)}, all kept; final acks = final seqs; ` +
        `fallback: 2 emails for 2 events to an offline user (one check due across the restart); client reports: ${errors.length === 0 ? 'none' : errors.join(', ')}`,
    );
  });
});
