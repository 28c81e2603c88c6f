import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { HeraldError, HeraldErrorCode, QueueName } from '@herald/contracts';
import {
  DEFAULT_PARTITIONS,
  DEFAULT_PRESENCE_TTL_MS,
  PresenceReader,
  checkPartitions,
  closeRedis,
  createKeys,
  createRedis,
  redisErrorLogger,
  jobLockOptions,
  type Logger,
} from '@herald/core';
import { deliverFallback, type FallbackOutcome } from './deliver-fallback.js';
import { defaultTemplates, type EmailTemplate } from './email-templates.js';
import { createMailer } from './mailer.js';
import { fallbackMarkTtlMs } from './mark-ttl.js';

export interface FallbackWorkerOptions {
  /** Redis holding the queues, presence, contacts and the Socket.IO channel. */
  redisUrl: string;
  /** Hash-tagged key prefix shared by every Herald process, e.g. `{herald}`. */
  prefix: string;
  /** Partitions (`HERALD_PARTITIONS`), the same in every process; checked against Redis at start. @default 16 */
  partitions?: number;
  logger: Logger;
  /** smtp:// or smtps:// URL; unset → emails are written to the log (dev). */
  smtpUrl?: string;
  /** @default 'Herald <herald@localhost>' */
  mailFrom?: string;
  /** Jobs processed at once (each sends at most `SENDS_PER_JOB` emails at once). @default 4 */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (`HERALD_FALLBACK_LOCK_MS`): a job of a worker
   * that died is taken up again between this and 1.5× this later (BullMQ's defaults: up to 90 s).
   * @default 10_000
   */
  lockMs?: number;
  /**
   * The dispatchers' lock (`HERALD_DISPATCHER_LOCK_MS`, read from the same variable): a
   * stream entry of a dispatcher that died is delivered again up to 1.5× this later and
   * may add its fallback checks again, so the `fallback-sent` marks must outlast that
   * (`fallbackMarkTtlMs`). The worker cannot read the dispatchers' setting: above theirs,
   * marks are only kept longer; below, a repeated check can come after its mark expired
   * and email again. @default 10_000
   */
  dispatcherLockMs?: number;
  /**
   * The socket nodes' presence TTL (`HERALD_PRESENCE_TTL_MS`, read from the same variable):
   * the longest a check waits for a plain device's presence entry, so also part of the marks'
   * lifetime. @default 20_000
   */
  presenceTtlMs?: number;
  /**
   * Email templates per event type, on top of the defaults (`notification:new`);
   * events without one get the generic template (`New {event}` and the payload as JSON).
   */
  templates?: Record<string, EmailTemplate>;
}

export interface FallbackWorker {
  worker: Worker;
  /** Lets active jobs finish, then closes the worker, the SMTP transport and the connections. */
  close(): Promise<void>;
}

/**
 * Starts the fallback worker: a BullMQ worker on the fallback queue that, when an
 * event's ack timeout ends, leaves alone the users who acked it (or had it on a plain
 * device), delivers it live to those online on a plain device that did not have it, and
 * emails it once to each of the others. Retries and backoff come from the job options
 * the dispatcher set; undeliverable jobs stay in the failed set.
 */
export async function startFallbackWorker(options: FallbackWorkerOptions): Promise<FallbackWorker> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `startFallbackWorker: concurrency must be an integer from 1 to 1000, got ${String(concurrency)}`,
    );
  }
  const lockMs = options.lockMs ?? 10_000;
  if (!Number.isInteger(lockMs) || lockMs < 1_000 || lockMs > 600_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `startFallbackWorker: lockMs must be an integer from 1000 to 600000, got ${String(lockMs)}`,
    );
  }
  const dispatcherLockMs = options.dispatcherLockMs ?? 10_000;
  if (!Number.isInteger(dispatcherLockMs) || dispatcherLockMs < 1_000 || dispatcherLockMs > 600_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `startFallbackWorker: dispatcherLockMs must be an integer from 1000 to 600000, got ${String(dispatcherLockMs)}`,
    );
  }
  const presenceTtlMs = options.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS;
  if (!Number.isInteger(presenceTtlMs) || presenceTtlMs < 1_000 || presenceTtlMs > 30_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `startFallbackWorker: presenceTtlMs must be an integer from 1000 to 30000, got ${String(presenceTtlMs)}`,
    );
  }
  if (options.smtpUrl !== undefined && !/^smtps?:\/\//.test(options.smtpUrl)) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'startFallbackWorker: smtpUrl must be an smtp:// or smtps:// URL',
    );
  }
  const log = options.logger.child({ component: 'fallback-worker' });
  const keys = createKeys(options.prefix, options.partitions ?? DEFAULT_PARTITIONS);
  const redis = createRedis(options.redisUrl, { enableAutoPipelining: true });
  const workerRedis = createRedis(options.redisUrl);
  const connections = [redis, workerRedis];
  for (const connection of connections) {
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    connection.on('error', redisErrorLogger(log, 'redis connection error'));
  }
  const mailer = createMailer({
    ...(options.smtpUrl === undefined ? {} : { smtpUrl: options.smtpUrl }),
    from: options.mailFrom ?? 'Herald <herald@localhost>',
    logger: log,
  });
  const deps = {
    redis,
    keys,
    presence: new PresenceReader(redis, keys),
    mailer,
    templates: { ...defaultTemplates, ...options.templates },
    logger: log,
  };

  const worker = new Worker<unknown, FallbackOutcome>(
    QueueName.fallback,
    async (job, token) => {
      // The job's attempts and backoff are the dispatcher's settings, carried in its options.
      const markTtlMs = fallbackMarkTtlMs({
        attempts: job.opts.attempts ?? 1,
        ...(job.opts.backoff === undefined ? {} : { backoff: job.opts.backoff }),
        dispatcherLockMs,
        fallbackLockMs: lockMs,
        presenceTtlMs,
      });
      // Every line of a job names it, so its summary lines can be matched to its failed reason.
      const outcome = await deliverFallback(job.data, {
        ...deps,
        markTtlMs,
        logger: log.child({ jobId: job.id }),
      });
      if (outcome.recheckAt !== undefined && token !== undefined) {
        // Some users could not be decided yet: the job runs again then, for them only
        // (the others are marked settled). Not an attempt: nothing failed.
        await job.moveToDelayed(outcome.recheckAt, token);
        throw new DelayedError();
      }
      return outcome;
    },
    {
      connection: workerRedis,
      ...jobLockOptions(lockMs),
      prefix: options.prefix,
      concurrency,
    },
  );
  worker.on('failed', (job, error) => {
    const context = { err: error, jobId: job?.id, attemptsMade: job?.attemptsMade };
    if (error instanceof UnrecoverableError || job?.finishedOn)
      log.error(context, 'fallback job failed for good; it stays in the failed set');
    else log.warn(context, 'fallback job failed; it will be retried');
  });
  worker.on('error', (error) => log.error({ err: error }, 'fallback worker error'));
  await worker.waitUntilReady();
  try {
    await checkPartitions(redis, keys);
  } catch (error) {
    await worker.close();
    await Promise.all(connections.map((c) => closeRedis(c)));
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      closing ??= (async () => {
        await worker.close();
        mailer.close();
        await Promise.all(connections.map((c) => closeRedis(c)));
      })();
      return closing;
    },
  };
}
