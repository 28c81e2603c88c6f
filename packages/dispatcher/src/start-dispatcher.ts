import { Queue } from 'bullmq';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  EVENTS_PER_JOB,
  HeraldError,
  HeraldErrorCode,
  QueueName,
  type FallbackJobData,
} from '@herald/contracts';
import {
  DEFAULT_MAX_DELIVERIES,
  DEFAULT_PARTITIONS,
  checkPartitions,
  closeRedis,
  createKeys,
  createNodeId,
  createRedis,
  redisErrorLogger,
  ensureDispatcherGroups,
  type Logger,
} from '@herald/core';
import { createCheckBatcher } from './check-batcher.js';
import { PoisonEntryError, deliverEntry, parseEntry } from './deliver-event.js';
import { toFallbackJob } from './fallback-jobs.js';
import { readPartitions, type EntryVerdict, type PartitionReader } from './read-partitions.js';

export interface DispatcherOptions {
  /** Redis holding the queues, presence and the Socket.IO channel. */
  redisUrl: string;
  /** Hash-tagged key prefix shared by every Herald process, e.g. `{herald}`. */
  prefix: string;
  /** Partitions (`HERALD_PARTITIONS`), the same in every process; checked against Redis at start. @default 16 */
  partitions?: number;
  logger: Logger;
  /**
   * How long after publishing the fallback check runs (`HERALD_ACK_TIMEOUT_MS`): it sends
   * only to users none of whose devices acked the event by then. @default 30_000
   */
  ackTimeoutMs?: number;
  /**
   * Stream entries delivered at once: read, presence read and SPUBLISHes. An entry then
   * gives up its slot while its ack checks linger to share a fallback job (`checkLingerMs`),
   * and is acknowledged once they are in Redis.
   * @default 32
   */
  concurrency?: number;
  /**
   * How long an entry's ack checks wait for those of other entries, to share one delayed
   * fallback job with them (`HERALD_DISPATCHER_CHECK_LINGER_MS`; they go at once when half
   * the slots are waiting). 0: each entry's checks get a job of their own.
   * @default 20
   */
  checkLingerMs?: number;
  /**
   * How long an entry may stay unacknowledged on a dispatcher before another claims it
   * (`HERALD_DISPATCHER_LOCK_MS`): the entries of a dispatcher that died are delivered by
   * the others between this and 1.5× this later.
   * @default 10_000
   */
  lockMs?: number;
  /** Deliveries of an entry without an acknowledgement before it goes to the dead stream. @default 5 */
  maxDeliveries?: number;
  /** Attempts of the fallback jobs it schedules. @default 8 */
  fallbackAttempts?: number;
  /** First backoff of those fallback jobs (exponential). @default 1_000 */
  fallbackBackoffMs?: number;
}

export interface Dispatcher {
  /** This dispatcher's name in the dispatchers' consumer group. */
  consumer: string;
  /** Stream entries this dispatcher delivered (valid items emitted, checks scheduled) since it started. */
  readonly delivered: number;
  /** Stops reading, lets the entries being delivered finish, then closes the fallback queue and the connections. */
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
 * Starts a dispatcher: a member of the dispatchers' consumer group on every partition's
 * stream that delivers each entry's events to the online devices of their users, with
 * each user's seq (or to a room, or everyone) through the Socket.IO Redis channel, and,
 * for events with a fallback policy, schedules the ack check of their users in a delayed
 * fallback job shared with the entries delivered within `checkLingerMs`. An entry is
 * acknowledged only once its PUBLISHes and checks are in Redis; a dispatcher that dies
 * leaves its entries pending, and the others deliver them after `lockMs`.
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
  const maxDeliveries = checkInt('maxDeliveries', options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES, 1, 1_000);
  const consumer = `dispatcher-${createNodeId()}`;
  const log = options.logger.child({ component: 'dispatcher', consumer });
  const keys = createKeys(options.prefix, options.partitions ?? DEFAULT_PARTITIONS);

  // The presence reads and PUBLISH scripts of concurrent entries, and their acknowledgements,
  // share one auto-pipelined connection, so they go out in a few writes.
  const redis = createRedis(options.redisUrl, { enableAutoPipelining: true });
  const queueRedis = createRedis(options.redisUrl);
  const connections = [redis, queueRedis];
  for (const connection of connections) {
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    connection.on('error', redisErrorLogger(log, 'redis connection error'));
  }
  try {
    await checkPartitions(redis, keys);
    await ensureDispatcherGroups(redis, keys);
  } catch (error) {
    await Promise.all(connections.map((c) => closeRedis(c)));
    throw error;
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

  let delivered = 0;
  const handle = async (
    _partition: number,
    id: string,
    fields: string[],
    release: () => void,
  ): Promise<EntryVerdict> => {
    let parsed;
    try {
      parsed = parseEntry(fields);
    } catch (error) {
      if (error instanceof PoisonEntryError) return { kind: 'dead', reason: error.message };
      throw error;
    }
    await deliverEntry(parsed, deps, id, release);
    delivered += 1;
    // The valid items were delivered; the entry is kept in the dead stream for the others.
    if (parsed.invalid.length > 0)
      return { kind: 'dead', reason: `invalid_entry: ${parsed.invalid.join('; ')}` };
    return { kind: 'done' };
  };

  const reader: PartitionReader = readPartitions({
    redis,
    keys,
    consumer,
    handle,
    concurrency,
    claimIdleMs: lockMs,
    maxDeliveries,
    blockMs: 2_000,
    trimEveryMs: 1_000,
    logger: log,
  });
  log.debug({ partitions: keys.partitions }, 'dispatcher reading the event streams');

  let closing: Promise<void> | undefined;
  return {
    consumer,
    get delivered() {
      return delivered;
    },
    close() {
      closing ??= (async () => {
        await reader.stop();
        await checks.drain();
        await fallbackQueue.close();
        await Promise.all(connections.map((c) => closeRedis(c)));
      })();
      return closing;
    },
  };
}
