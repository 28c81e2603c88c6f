import { z } from 'zod';
import {
  DEFAULT_PRESENCE_TTL_MS,
  commonEnv,
  createLogger,
  envInt,
  exitOnSignal,
  loadConfigOrExit,
} from '@herald/core';
import { startFallbackWorker } from '@herald/fallback-worker';

const env = loadConfigOrExit(
  z.object({
    ...commonEnv,
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, 'expected an smtp:// or smtps:// URL')
      .optional(),
    MAIL_FROM: z.string().min(3).default('Herald <herald@localhost>'),
    HERALD_FALLBACK_CONCURRENCY: envInt(1, 1_000).default(4),
    HERALD_FALLBACK_LOCK_MS: envInt(1_000, 600_000).default(10_000),
    // The dispatchers' and socket nodes' settings, read from their variables: the fallback-sent
    // marks are kept as long as those let a check of the same (event, user) run again.
    HERALD_DISPATCHER_LOCK_MS: envInt(1_000, 600_000).default(10_000),
    HERALD_PRESENCE_TTL_MS: envInt(1_000, 30_000).default(DEFAULT_PRESENCE_TTL_MS),
  }),
);

const logger = createLogger({ name: 'fallback-worker', level: env.HERALD_LOG_LEVEL });
const fallbackWorker = await startFallbackWorker({
  redisUrl: env.REDIS_URL,
  prefix: env.HERALD_REDIS_PREFIX,
  partitions: env.HERALD_PARTITIONS,
  logger,
  ...(env.SMTP_URL === undefined ? {} : { smtpUrl: env.SMTP_URL }),
  mailFrom: env.MAIL_FROM,
  concurrency: env.HERALD_FALLBACK_CONCURRENCY,
  lockMs: env.HERALD_FALLBACK_LOCK_MS,
  dispatcherLockMs: env.HERALD_DISPATCHER_LOCK_MS,
  presenceTtlMs: env.HERALD_PRESENCE_TTL_MS,
});
logger.info(
  {
    prefix: env.HERALD_REDIS_PREFIX,
    email: env.SMTP_URL ? 'smtp' : 'log',
    concurrency: env.HERALD_FALLBACK_CONCURRENCY,
  },
  'fallback worker ready',
);
exitOnSignal(() => fallbackWorker.close(), { logger });
