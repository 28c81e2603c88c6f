import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import {
  DEFAULT_PARTITIONS,
  MIN_SECRET_BYTES,
  closeRedis,
  createKeys,
  createRedis,
  rememberEmail,
  withTimeout,
  type Logger,
} from '@herald/core';
import { startDispatcher } from '@herald/dispatcher';
import { startFallbackWorker } from '@herald/fallback-worker';
import { resolveRedis, type RedisSource } from '@herald/local-redis';
import { createPublishApiHandler } from '@herald/publish-api';
import { createPublisher } from '@herald/publisher';
import { startSocketNode } from '@herald/socket-node';
import { createDemoPageHandler } from './demo-page.js';
import { createDevCredentials, type DevCredentials } from './dev-credentials.js';
import { startExampleService } from './example-service.js';

export interface LocalStackOptions {
  /** HTTP port of everything (Socket.IO, publish API, demo page); 0 picks a free one. @default 3000 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' (the demo page carries a token) */
  host?: string;
  /** @default '/socket.io/' */
  wsPath?: string;
  /** Origins allowed to connect; unset allows the page's own origin only. */
  corsOrigins?: string[];
  /** Tokens are verified with it. @default a random secret for this run */
  jwtSecret?: string;
  /** The publish API's key. @default a random key for this run */
  apiKey?: string;
  /** @default process.env, read for REDIS_URL (else a container or a private redis-server) */
  env?: NodeJS.ProcessEnv;
  /** @default '{herald}' */
  prefix?: string;
  /** Partitions (`HERALD_PARTITIONS`). @default 16 */
  partitions?: number;
  /** How long the fallback check waits for an ack (`HERALD_ACK_TIMEOUT_MS`). @default 30_000 */
  ackTimeoutMs?: number;
  /** How long a publish, presence read or handshake waits for Redis (`HERALD_REDIS_TIMEOUT_MS`). @default 2_000 */
  redisTimeoutMs?: number;
  /** Events kept per user for replay (`HERALD_INBOX_MAX`). @default 500 */
  inboxMax?: number;
  /** Seconds an inbox lives after its last append (`HERALD_INBOX_TTL_S`). @default 86_400 */
  inboxTtlS?: number;
  /** Largest event payload accepted, in bytes of JSON (publisher `maxPayloadBytes`). @default 65_536 */
  maxPayloadBytes?: number;
  /** Fallback emails go here; unset, they are written to the log. */
  smtpUrl?: string;
  mailFrom?: string;
  /** Who the dev token and the example service's notifications are for. @default 'demo-user' */
  demoUser?: string;
  /** The dev token's `email` claim, where fallback emails for the demo user go. @default 'demo@localhost' */
  demoEmail?: string;
  /** Between two example notifications; 0 turns them off. @default 5_000 */
  demoIntervalMs?: number;
  logger: Logger;
}

export interface LocalStack {
  /** http://localhost:<port> */
  url: string;
  port: number;
  redis: { url: string; source: RedisSource };
  credentials: DevCredentials;
  /**
   * Stops everything in the reverse order of starting, the Redis it started last. When Redis
   * does not answer, rejects if pieces did not close within 2 s together, having stopped
   * the rest without them.
   */
  close(): Promise<void>;
}

type Closer = { name: string; close: () => Promise<void> };

/**
 * How long a stop waits for the pieces to close, when Redis does not answer, before it goes
 * on without them: their commands wait for a reconnect that never comes, and the process
 * would otherwise hang until its shutdown timeout. While Redis answers there is no budget
 * (the shutdown timeout still bounds the stop): a busy machine can take longer than this
 * to close everything cleanly, and that is no failure.
 */
const CLOSE_BUDGET_MS = 2_000;

/**
 * How long the stop asks Redis for a PING before it decides Redis does not answer: short,
 * since a Redis that answers does so in milliseconds and this wait adds to every stop.
 */
const REDIS_PROBE_MS = 500;

/** Resolves true when `promise` resolves within `ms`; false when it rejects or takes longer. */
function resolvesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(promise, Math.max(0, ms), 'waiting').then(
    () => true,
    () => false,
  );
}

/**
 * Runs all of Herald in one process for a first run on a laptop: a Redis found or
 * started, one socket node whose HTTP server also answers the publish API and the
 * demo page, a dispatcher, a fallback worker, and an example domain service.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.logger;
  const prefix = options.prefix ?? '{herald}';
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  const wsPath = options.wsPath ?? '/socket.io/';
  const credentials = createDevCredentials({
    jwtSecret: options.jwtSecret,
    apiKey: options.apiKey,
    userId: options.demoUser ?? 'demo-user',
    email: options.demoEmail ?? 'demo@localhost',
  });
  if (Buffer.byteLength(credentials.jwtSecret, 'utf8') < MIN_SECRET_BYTES) {
    log.warn(
      `JWT_SECRET is shorter than ${MIN_SECRET_BYTES} bytes: fine for this local stack, refused by a real socket node`,
    );
  }
  // Filled as pieces start, so a failure half-way closes what did start.
  const closers: Closer[] = [];
  /** Whether Redis answers a PING (within `redisTimeoutMs`, at once false while it is known down). */
  let redisAnswers = (): Promise<boolean> => Promise.resolve(false);
  const closeAll = async () => {
    // undefined: no budget (a timer cannot hold Infinity: Node fires it after 1 ms).
    const deadline = (await redisAnswers()) ? undefined : Date.now() + CLOSE_BUDGET_MS;
    const late: string[] = [];
    for (const { name, close } of closers.splice(0).reverse()) {
      const closing = close().catch((error: unknown) =>
        log.error({ err: error, component: name }, 'closing failed'),
      );
      // The Redis this stack started is always waited for (its stop is bounded by itself),
      // so it never outlives the stack; the pieces share what is left of the budget, if any.
      if (name === 'redis' || deadline === undefined) await closing;
      else if (!(await resolvesWithin(closing, deadline - Date.now()))) late.push(name);
    }
    if (late.length > 0) {
      throw new HeraldError(
        HeraldErrorCode.unavailable,
        `Stopped without waiting for ${late.join(', ')} to close: not done within ${CLOSE_BUDGET_MS} ms while Redis does not answer`,
      );
    }
  };

  try {
    const redis = await resolveRedis({ env: options.env ?? process.env });
    closers.push({ name: 'redis', close: () => redis.stop() });
    log.info({ source: redis.source }, 'redis ready');
    // The stack issued the demo user's token, so it knows the address: fallback email
    // for that user works before its first connection (socket nodes learn it on connect).
    const seed = createRedis(redis.url);
    seed.on('error', (error: Error) => log.warn({ err: error }, 'redis connection error'));
    await rememberEmail(
      seed,
      createKeys(prefix, partitions),
      credentials.userId,
      options.demoEmail ?? 'demo@localhost',
    ).finally(() => closeRedis(seed));

    const publisher = createPublisher({
      redisUrl: redis.url,
      prefix,
      partitions,
      logger: log,
      ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
      ...(options.inboxMax === undefined ? {} : { inboxMax: options.inboxMax }),
      ...(options.inboxTtlS === undefined ? {} : { inboxTtlS: options.inboxTtlS }),
      ...(options.redisTimeoutMs === undefined ? {} : { redisTimeoutMs: options.redisTimeoutMs }),
    });
    closers.push({ name: 'publisher', close: () => publisher.close() });
    redisAnswers = () => resolvesWithin(publisher.checkRedis(), REDIS_PROBE_MS);

    const dispatcher = await startDispatcher({
      redisUrl: redis.url,
      prefix,
      partitions,
      logger: log,
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
    });
    closers.push({ name: 'dispatcher', close: () => dispatcher.close() });

    const fallbackWorker = await startFallbackWorker({
      redisUrl: redis.url,
      prefix,
      partitions,
      logger: log,
      smtpUrl: options.smtpUrl,
      mailFrom: options.mailFrom,
    });
    closers.push({ name: 'fallback-worker', close: () => fallbackWorker.close() });

    const demoPage = createDemoPageHandler({ token: credentials.token, userId: credentials.userId, wsPath });
    const publishApi = createPublishApiHandler({ publisher, apiKey: credentials.apiKey, logger: log });
    const httpHandler = async (req: IncomingMessage, res: ServerResponse) =>
      demoPage(req, res) || publishApi(req, res);

    const node = await startSocketNode({
      redisUrl: redis.url,
      prefix,
      partitions,
      jwtSecret: credentials.jwtSecret,
      // Laptop only: a short JWT_SECRET is allowed here (warned about above); a real socket node refuses it.
      jwt: { minSecretBytes: 1 },
      port: options.port ?? 3000,
      host: options.host ?? '127.0.0.1',
      wsPath,
      corsOrigins: options.corsOrigins,
      logger: log,
      httpHandler,
      ...(options.redisTimeoutMs === undefined ? {} : { redisTimeoutMs: options.redisTimeoutMs }),
    });
    closers.push({ name: 'socket-node', close: () => node.close() });

    // Last to start, first to stop: it publishes into everything above.
    const example = startExampleService({
      publisher,
      userId: credentials.userId,
      intervalMs: options.demoIntervalMs,
      logger: log,
    });
    closers.push({ name: 'example-service', close: () => example.stop() });

    return {
      url: `http://localhost:${node.port}`,
      port: node.port,
      redis: { url: redis.url, source: redis.source },
      credentials,
      close: closeAll,
    };
  } catch (error) {
    // The start-up error is the one to report; a slow close is logged and left behind.
    await closeAll().catch((closeError: unknown) =>
      log.warn({ err: closeError }, 'closing after a failed start'),
    );
    throw error;
  }
}
