import { z } from 'zod';
import { DEFAULT_ACK_TIMEOUT_MS } from '@herald/contracts';
import { commonEnv, createLogger, envInt, exitOnSignal, loadConfigOrExit } from '@herald/core';
import { startDispatcher } from '@herald/dispatcher';

const env = loadConfigOrExit(
  z.object({
    ...commonEnv,
    HERALD_ACK_TIMEOUT_MS: envInt(0, 7 * 24 * 3_600_000).default(DEFAULT_ACK_TIMEOUT_MS),
    HERALD_DISPATCHER_CONCURRENCY: envInt(1, 1_000).default(32),
    HERALD_DISPATCHER_LOCK_MS: envInt(1_000, 600_000).default(10_000),
    HERALD_DISPATCHER_CHECK_LINGER_MS: envInt(0, 10_000).default(20),
    HERALD_FALLBACK_ATTEMPTS: envInt(1, 100).default(8),
    HERALD_FALLBACK_BACKOFF_MS: envInt(0, 3_600_000).default(1_000),
  }),
);

const logger = createLogger({ name: 'dispatcher', level: env.HERALD_LOG_LEVEL });
const dispatcher = await startDispatcher({
  redisUrl: env.REDIS_URL,
  prefix: env.HERALD_REDIS_PREFIX,
  partitions: env.HERALD_PARTITIONS,
  logger,
  ackTimeoutMs: env.HERALD_ACK_TIMEOUT_MS,
  concurrency: env.HERALD_DISPATCHER_CONCURRENCY,
  lockMs: env.HERALD_DISPATCHER_LOCK_MS,
  checkLingerMs: env.HERALD_DISPATCHER_CHECK_LINGER_MS,
  fallbackAttempts: env.HERALD_FALLBACK_ATTEMPTS,
  fallbackBackoffMs: env.HERALD_FALLBACK_BACKOFF_MS,
});
logger.info(
  {
    prefix: env.HERALD_REDIS_PREFIX,
    partitions: env.HERALD_PARTITIONS,
    concurrency: env.HERALD_DISPATCHER_CONCURRENCY,
    ackTimeoutMs: env.HERALD_ACK_TIMEOUT_MS,
  },
  'dispatcher ready',
);
exitOnSignal(() => dispatcher.close(), { logger });
