import { Queue, UnrecoverableError, Worker } from 'bullmq';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  EVENTS_PER_JOB,
  HeraldError,
  HeraldErrorCode,
  QueueName,
  type FallbackJobData,
} from '@herald/contracts';
import { closeRedis, createKeys, createRedis, jobLockOptions, type Logger } from '@herald/core';
import { createCheckBatcher } from './check-batcher.js';
import { deliverEvent, type DeliveryResult } from './deliver-event.js';
import { toFallbackJob } from './fallback-jobs.js';

export interface DispatcherOptions {
  /** Redis holding the queues, presence and the Socket.IO channel. */
  redisUrl: string;
  /** Hash-tagged key prefix shared by every Herald process, e.g. `{herald}`. */
  prefix: string;
  logger: Logger;
  /**
   * How long after publishing the fallback check runs (`HERALD_ACK_TIMEOUT_MS`): it sends
   * only to users none of whose devices acked the event by then. @default 30_000
   */
  ackTimeoutMs?: number;
  /**
   * Jobs processed at once. A job holds its slot until its ack checks are in a fallback
   * job (`checkLingerMs` at most), so there are more than the CPU alone would need.
   * @default 32
   */
  concurrency?: number;
  /**
   * How long an events job's ack checks wait for those of other jobs, to share one
   * delayed fallback job with them (`HERALD_DISPATCHER_CHECK_LINGER_MS`; they go at once
   * when half the slots are waiting). 0: each events job's checks get a job of their own.
   * @default 20
   */
  checkLingerMs?: number;
  /**
   * How long a job's lock lasts without renewal (`HERALD_DISPATCHER_LOCK_MS`). A job of a
   * dispatcher that died is taken up again by another between this and 1.5× this later;
   * BullMQ's 30 s default, checked every 30 s, let such events wait up to a minute and a half.
   * @default 10_000
   */
  lockMs?: number;
  /** Attempts of the fallback jobs it schedules. @default 8 */
  fallbackAttempts?: number;
  /** First backoff of those fallback jobs (exponential). @default 1_000 */
  fallbackBackoffMs?: number;
}

export interface Dispatcher {
  worker: Worker;
  /** Lets active jobs finish, then closes the worker, the fallback queue and the connections. */
  close(): Promise<void>;
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `startDispatcher: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Starts a dispatcher: a BullMQ worker on the events queue that delivers each event
 * to the online devices of its users, with each user's seq (or to a room, or everyone)
 * through the Socket.IO Redis channel, and, when the event has a fallback policy,
 * schedules the ack check of its users in a delayed fallback job shared with the events
 * jobs delivered within `checkLingerMs`. Retries and backoff of events jobs come from the job
 * options the publisher sets; poison jobs fail at once with their reason.
 *
 * @example
 * const dispatcher = await startDispatcher({ redisUrl, prefix: '{herald}', logger });
 * // …
 * await dispatcher.close();
 */
export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const fallback = {
    delayMs: checkInt('ackTimeoutMs', options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, 0, 7 * 24 * 3_600_000),
    attempts: checkInt('fallbackAttempts', options.fallbackAttempts ?? 8, 1, 100),
    backoffMs: checkInt('fallbackBackoffMs', options.fallbackBackoffMs ?? 1_000, 0, 3_600_000),
  };
  const concurrency = checkInt('concurrency', options.concurrency ?? 32, 1, 1_000);
  const checkLingerMs = checkInt('checkLingerMs', options.checkLingerMs ?? 20, 0, 10_000);
  const lockMs = checkInt('lockMs', options.lockMs ?? 10_000, 1_000, 600_000);
  const log = options.logger.child({ component: 'dispatcher' });
  const keys = createKeys(options.prefix);

  // The state reads and PUBLISH scripts of concurrent jobs share one auto-pipelined
  // connection, so they go out in a few writes.
  const redis = createRedis(options.redisUrl, { enableAutoPipelining: true });
  const queueRedis = createRedis(options.redisUrl);
  const workerRedis = createRedis(options.redisUrl);
  const connections = [redis, queueRedis, workerRedis];
  for (const connection of connections) {
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    connection.on('error', (error: Error) => log.warn({ err: error }, 'redis connection error'));
  }

  const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, {
    connection: queueRedis,
    prefix: options.prefix,
  });
  // Without a listener BullMQ prints each of its connection's errors with the stack.
  fallbackQueue.on('error', (error) => log.error({ err: error }, 'fallback queue error'));
  const checks = createCheckBatcher({
    lingerMs: checkLingerMs,
    maxWaiters: Math.max(1, Math.floor(concurrency / 2)),
    maxUsers: 5_000,
    maxChecks: EVENTS_PER_JOB,
    addJob: (checked) => {
      const job = toFallbackJob(checked, fallback);
      return fallbackQueue.add(job.name, job.data, job.opts);
    },
  });
  const deps = { redis, keys, checks, logger: log };

  const worker = new Worker<unknown, DeliveryResult>(
    QueueName.events,
    // The publisher gives each job a UUID and records it with the events it sequenced.
    (job) => deliverEvent(job.data, deps, String(job.id)),
    {
      connection: workerRedis,
      prefix: options.prefix,
      concurrency,
      ...jobLockOptions(lockMs),
    },
  );
  worker.on('failed', (job, error) => {
    const context = {
      err: error,
      jobId: job?.id,
      attemptsMade: job?.attemptsMade,
      ...eventIdsOf(job?.data),
    };
    if (error instanceof UnrecoverableError) log.error(context, 'poison event job moved to the failed set');
    else if (job?.finishedOn) log.error(context, 'event job failed for good; it stays in the failed set');
    else log.warn(context, 'event job failed; it will be retried');
  });
  worker.on('error', (error) => log.error({ err: error }, 'events worker error'));
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      closing ??= (async () => {
        await worker.close();
        await checks.drain();
        await fallbackQueue.close();
        await Promise.all(connections.map((c) => closeRedis(c)));
      })();
      return closing;
    },
  };
}

/**
 * The first event ids of a job's data where it has them, for log lines about jobs that
 * may be invalid.
 */
function eventIdsOf(data: unknown): { eventIds?: string[] } {
  if (typeof data !== 'object' || data === null) return {};
  if ('events' in data && Array.isArray(data.events)) {
    const ids = (data.events as unknown[])
      .slice(0, 10)
      .map((e) => (typeof e === 'object' && e !== null ? (e as { eventId?: unknown }).eventId : undefined))
      .filter((id): id is string => typeof id === 'string');
    return { eventIds: ids };
  }
  return {};
}
