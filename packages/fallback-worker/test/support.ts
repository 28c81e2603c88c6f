export { useCleanup, type Defer } from '@herald/testing';
import type { Defer } from '@herald/testing';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { inject } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import {
  closeRedis,
  createKeys,
  createLogger,
  createRedis,
  silentLogger,
  type Logger,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';
import { startDispatcher, type DispatcherOptions } from '@herald/dispatcher';
import { createPublisher, type Publisher } from '@herald/publisher';
import { startSocketNode } from '@herald/socket-node';
import {
  TEST_JWT_SECRET,
  startSmtpSink,
  uniquePrefix,
  type ReceivedMail,
  type SmtpSink,
} from '@herald/testing';
import { startFallbackWorker, type FallbackWorkerOptions } from '../src/index.js';

export interface FallbackStack {
  prefix: string;
  keys: RedisKeys;
  redis: RedisClient;
  url: string;
  publisher: Publisher;
  sink: SmtpSink;
  fallbackQueue: Queue<FallbackJobData>;
  /** Mails the SMTP server accepted for `address`. */
  mailsTo(address: string): ReceivedMail[];
}

export interface FallbackStackOptions {
  /** The dispatcher's ack timeout before the fallback check. @default 300 */
  ackTimeoutMs?: number;
  /** The socket node's presence TTL (heartbeat every third of it). @default 20_000 */
  presenceTtlMs?: number;
  /** The fallback worker's logger (the other processes stay silent). @default silent */
  workerLogger?: Logger;
  /** More dispatcher options (its fallback attempts, backoff, lock). */
  dispatcher?: Partial<DispatcherOptions>;
  /** More fallback worker options (its lock, the other processes' settings it reads). */
  worker?: Partial<FallbackWorkerOptions>;
}

/**
 * A socket node, a dispatcher with a short ack timeout and fast fallback retries,
 * the fallback worker sending to a real SMTP server, and a publisher, on a fresh prefix.
 */
export async function startFallbackStack(
  defer: Defer,
  options: FallbackStackOptions = {},
): Promise<FallbackStack> {
  const prefix = uniquePrefix('fb');
  const redisUrl = inject('redisUrl');
  const logger = silentLogger();
  const redis = createRedis(redisUrl);
  defer(() => closeRedis(redis));
  const sink = await startSmtpSink();
  defer(() => sink.close());
  const node = await startSocketNode({
    redisUrl,
    prefix,
    jwtSecret: TEST_JWT_SECRET,
    port: 0,
    host: '127.0.0.1',
    logger,
    ...(options.presenceTtlMs === undefined ? {} : { presenceTtlMs: options.presenceTtlMs }),
  });
  defer(() => node.close());
  const dispatcher = await startDispatcher({
    redisUrl,
    prefix,
    logger,
    ackTimeoutMs: options.ackTimeoutMs ?? 300,
    fallbackBackoffMs: 200,
    ...options.dispatcher,
  });
  defer(() => dispatcher.close());
  const worker = await startFallbackWorker({
    redisUrl,
    prefix,
    logger: options.workerLogger ?? logger,
    smtpUrl: sink.url,
    mailFrom: 'Herald <herald@test.local>',
    ...options.worker,
  });
  defer(() => worker.close());
  const publisher = createPublisher({ redisUrl, prefix });
  defer(() => publisher.close());
  const fallbackQueue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
  defer(() => fallbackQueue.close());
  return {
    prefix,
    keys: createKeys(prefix),
    redis,
    url: `http://127.0.0.1:${node.port}`,
    publisher,
    sink,
    fallbackQueue,
    mailsTo: (address) => sink.mails.filter((m) => m.to.includes(address)),
  };
}

/** A title-only notification, as the original module's callers send them. */
export const notification = (title: string, message = 'Open the app to see it.') => ({
  notification: { id: `n-${crypto.randomUUID().slice(0, 6)}`, title, message, type: 'info' },
  timestamp: new Date().toISOString(),
});

/** One line a captured logger wrote, parsed, with the line as written. */
export interface LogLine {
  level: number;
  msg: string;
  text: string;
  [field: string]: unknown;
}

/**
 * A logger built as the worker's `main` builds it (pino with Herald's redaction and
 * scrubbing), writing into `lines` instead of stdout.
 */
export function captureLogger(level: 'debug' | 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text !== '') lines.push({ ...(JSON.parse(text) as LogLine), text });
      }
      callback();
    },
  });
  return { logger: createLogger({ name: 'fallback-worker', level, destination }), lines };
}

/** pino's numeric levels. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
