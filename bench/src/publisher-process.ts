/**
 * A publisher process for one of the three paths the bench compares, driven over IPC:
 *
 * - `ceiling`: straight through `createShardedEmitter` into `user:{id}` rooms (no queue);
 * - `naive`: one BullMQ job per event (`Queue.add`), emitted by `naive-worker.ts`;
 * - `herald`: `@herald/publisher` → partition streams → `apps/dispatcher` → socket nodes.
 *
 * `run` offers events at a fixed rate, one user each, round-robin over the users.
 * Events it cannot issue on time (in-flight cap reached, or the loop fell behind by
 * more than 50 ms worth) are counted as `skipped`, not sent late in a burst, so the
 * achieved offered rate shows when the publishing side itself is the bottleneck.
 */
import { Queue } from 'bullmq';
import { createPublisher } from '@herald/publisher';
import { closeRedis, createKeys, createRedis, createShardedEmitter } from '@herald/core';
import { serveRpc } from './rpc.js';
import { BENCH_EVENT, benchEmail, benchPayload, now, type BenchPayload } from './payload.js';
import { NAIVE_QUEUE, type NaiveJobData } from './naive-job.js';

export type BenchPath = 'ceiling' | 'naive' | 'herald';

export interface RunArgs {
  phase: string;
  /** Events per second offered. */
  rate: number;
  durationMs: number;
  userIds: string[];
  /** @default 5_000 */
  maxInFlight?: number;
  /**
   * Herald only: users no device of which ever connected; their events carry
   * `fallback: { email }` (there is no remembered address), so each one is emailed.
   */
  emailUsers?: string[];
}

export interface RunResult {
  /** Events issued (event numbers 0 … published-1). */
  published: number;
  /** Events due that could not be issued on time. */
  skipped: number;
  errors: number;
  errorSamples: string[];
  startedAt: number;
  /** When the last event was issued. */
  endedAt: number;
  /** When every publish call had resolved. */
  settledAt: number;
}

export interface FanOutArgs {
  phase: string;
  /** First event number; `count` events get numbers seq … seq+count-1. */
  seq: number;
  userIds: string[];
  /** @default 1 */
  count?: number;
  /** Herald only: `false` skips the email fallback (live-only events). @default the event's default */
  fallback?: false;
}

export interface FanOutResult {
  publishedAt: number;
  settledAt: number;
}

const path = process.env.BENCH_PATH as BenchPath;
const redisUrl = process.env.REDIS_URL ?? '';
const prefix = process.env.HERALD_REDIS_PREFIX ?? '{herald}';
if (!['ceiling', 'naive', 'herald'].includes(path))
  throw new Error(`BENCH_PATH must be ceiling, naive or herald`);

interface Sender {
  /** `email`: Herald only, the event's `fallback.email` (the other paths have no fallback). */
  one(userId: string, payload: BenchPayload, email?: string): Promise<unknown>;
  many(userIds: string[], payload: BenchPayload, fallback: false | undefined): Promise<unknown>;
  close(): Promise<void>;
}

function ceilingSender(): Sender {
  // Auto-pipelined, as Herald's dispatcher connection is: the ceiling should be the best the emitter
  // can do. BENCH_CEILING_PLAIN=1 (`--ceiling-plain`) measures one write per PUBLISH instead.
  const redis = createRedis(redisUrl, { enableAutoPipelining: process.env.BENCH_CEILING_PLAIN !== '1' });
  const emitter = createShardedEmitter(redis, { channelPrefix: createKeys(prefix).socketIoChannelPrefix });
  const meta = (payload: BenchPayload) => ({ id: payload.notification.id, ts: Date.now() });
  return {
    one(userId, payload) {
      emitter.to(`user:${userId}`).emit(BENCH_EVENT, payload, meta(payload));
      return emitter.send();
    },
    many(userIds, payload) {
      emitter.to(userIds.map((id) => `user:${id}`)).emit(BENCH_EVENT, payload, meta(payload));
      return emitter.send();
    },
    close: () => closeRedis(redis),
  };
}

function naiveSender(): Sender {
  const redis = createRedis(redisUrl);
  const queue = new Queue<NaiveJobData>(NAIVE_QUEUE, { connection: redis, prefix });
  // Completed jobs are removed at once: cheaper for this baseline than Herald's retention.
  const opts = { removeOnComplete: true, removeOnFail: 1_000 };
  const job = (userIds: string[], payload: BenchPayload) =>
    queue.add(BENCH_EVENT, { event: BENCH_EVENT, userIds, payload, id: payload.notification.id }, opts);
  return {
    one: (userId, payload) => job([userId], payload),
    many: (userIds, payload) => job(userIds, payload),
    async close() {
      await queue.close();
      await closeRedis(redis);
    },
  };
}

function heraldSender(): Sender {
  // Diagnostics: BENCH_LINGER_MS, BENCH_BUSY_RATE and BENCH_BUSY_LINGER_MS set the publisher's
  // lingerMs, busyRate and busyLingerMs (how long a batch waits for more events, and under load).
  // Unset, an option stays undefined and the publisher's default applies.
  const numeric = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const publisher = createPublisher({
    redisUrl,
    prefix,
    lingerMs: numeric('BENCH_LINGER_MS'),
    busyRate: numeric('BENCH_BUSY_RATE'),
    busyLingerMs: numeric('BENCH_BUSY_LINGER_MS'),
  });
  // `--herald-no-fallback` (a diagnostic): scenario 1's events skip the ack-based fallback check.
  const noFallback = process.env.BENCH_HERALD_NO_FALLBACK === '1';
  // No eventId: Herald generates one, as for a producer without ids of its own (a supplied id
  // costs a 24 h dedupe record). A fallback email names its event by the payload's title.
  return {
    one: (userId, payload, email) =>
      publisher
        .toUser(userId)
        .emit(
          BENCH_EVENT,
          payload,
          email !== undefined ? { fallback: { email } } : noFallback ? { fallback: false } : {},
        ),
    many: (userIds, payload, fallback) =>
      publisher.toUsers(userIds).emit(BENCH_EVENT, payload, fallback === false ? { fallback: false } : {}),
    close: () => publisher.close(),
  };
}

const sender = path === 'ceiling' ? ceilingSender() : path === 'naive' ? naiveSender() : heraldSender();
let inFlight = 0;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function settle(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

async function run(args: RunArgs): Promise<RunResult> {
  const maxInFlight = args.maxInFlight ?? 5_000;
  const maxBurst = Math.max(1, Math.ceil(args.rate * 0.05));
  const users = args.userIds;
  const emailUsers = new Set(args.emailUsers ?? []);
  let published = 0;
  let skipped = 0;
  let errors = 0;
  const errorSamples = new Set<string>();
  const onError = (error: unknown) => {
    errors += 1;
    if (errorSamples.size < 5) errorSamples.add(describe(error));
  };
  const onSettled = () => {
    inFlight -= 1;
  };
  const startedAt = now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = now() - startedAt;
      if (elapsed >= args.durationMs) {
        resolve();
        return;
      }
      const due = Math.floor((elapsed * args.rate) / 1000) + 1 - published - skipped;
      if (due > maxBurst) skipped += due - maxBurst;
      for (let i = 0; i < Math.min(due, maxBurst); i++) {
        if (inFlight >= maxInFlight) {
          skipped += Math.min(due, maxBurst) - i;
          break;
        }
        const seq = published++;
        const userId = users[seq % users.length] as string;
        inFlight += 1;
        try {
          const email = emailUsers.has(userId) ? benchEmail(userId) : undefined;
          sender.one(userId, benchPayload(args.phase, seq), email).then(onSettled, (error: unknown) => {
            onSettled();
            onError(error);
          });
        } catch (error) {
          // A synchronous throw (validation) never reached Redis.
          onSettled();
          onError(error);
        }
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const endedAt = now();
  await settle();
  return {
    published,
    skipped,
    errors,
    errorSamples: [...errorSamples],
    startedAt,
    endedAt,
    settledAt: now(),
  };
}

async function fanOut(args: FanOutArgs): Promise<FanOutResult> {
  const publishedAt = now();
  const sends: Array<Promise<unknown>> = [];
  for (let i = 0; i < (args.count ?? 1); i++) {
    sends.push(sender.many(args.userIds, benchPayload(args.phase, args.seq + i), args.fallback));
  }
  await Promise.all(sends);
  return { publishedAt, settledAt: now() };
}

let closing: Promise<void> | undefined;
const shutdown = () => {
  closing ??= sender.close().finally(() => process.exit(0));
};
// Exit through process.exit so `--cpu-prof` writes its profile.
process.on('SIGTERM', shutdown);

const api = { run, fanOut };
export type PublisherApi = typeof api;
serveRpc(api, shutdown);
