import { z } from 'zod';
import {
  commonEnv,
  createLogger,
  envInt,
  envPort,
  exitOnSignal,
  inboxEnv,
  loadConfigOrExit,
} from '@herald/core';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '@herald/contracts';
import { createPublisher } from '@herald/publisher';
import { startPublishApi } from '@herald/publish-api';

const config = loadConfigOrExit(
  z.object({
    ...commonEnv,
    ...inboxEnv,
    PORT: envPort.default(3001),
    HOST: z.string().min(1).default('0.0.0.0'),
    HERALD_API_KEY: z
      .string({ error: 'required: the key producers send as "Authorization: Bearer <key>"' })
      .min(16, 'expected at least 16 characters'),
    HERALD_BODY_LIMIT_BYTES: envInt(1, 64 * 1024 * 1024).default(1_048_576),
    HERALD_MAX_PAYLOAD_BYTES: envInt(1, 64 * 1024 * 1024).default(DEFAULT_MAX_PAYLOAD_BYTES),
  }),
);

const logger = createLogger({ name: 'publish-api', level: config.HERALD_LOG_LEVEL });
const publisher = createPublisher({
  redisUrl: config.REDIS_URL,
  prefix: config.HERALD_REDIS_PREFIX,
  partitions: config.HERALD_PARTITIONS,
  maxPayloadBytes: config.HERALD_MAX_PAYLOAD_BYTES,
  inboxMax: config.HERALD_INBOX_MAX,
  inboxTtlS: config.HERALD_INBOX_TTL_S,
  waitReplicas: config.HERALD_PUBLISH_WAIT_REPLICAS,
  redisTimeoutMs: config.HERALD_REDIS_TIMEOUT_MS,
  logger,
});
const api = await startPublishApi({
  publisher,
  apiKey: config.HERALD_API_KEY,
  logger,
  bodyLimitBytes: config.HERALD_BODY_LIMIT_BYTES,
  port: config.PORT,
  host: config.HOST,
});
logger.info({ port: api.port, host: config.HOST, prefix: config.HERALD_REDIS_PREFIX }, 'listening');

exitOnSignal(
  async () => {
    await api.close();
    await publisher.close();
  },
  { logger },
);
