import { z } from 'zod';
import { commonEnv, createLogger, envInt, exitOnSignal, loadConfigOrExit } from '@herald/core';
import { startFallbackWorker } from './start-fallback-worker.js';

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
