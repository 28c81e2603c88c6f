import { z } from 'zod';
import { DEFAULT_ACK_TIMEOUT_MS, UserId } from '@herald/contracts';
import { commonEnv, envInt, envLogLevel, envPort, envPrefix, envRedisUrl, inboxEnv } from '@herald/core';
import { SocketNodeEnv } from '@herald/socket-node';

/**
 * The local stack's environment. Unlike the separate apps, REDIS_URL has no
 * default: when it is unset the stack finds or starts a Redis itself.
 * Empty values count as unset (parseEnv drops them).
 */
export const localStackEnv = z.object({
  PORT: envPort.default(3000),
  /** Loopback by default: the demo page embeds a dev token, so it should not be on the LAN unless asked. */
  HOST: z.string().min(1).default('127.0.0.1'),
  WS_PATH: SocketNodeEnv.shape.WS_PATH,
  /** Same rules as the socket node's: exact origins, comma-separated. The demo page is same-origin and needs none. */
  CORS_ORIGIN: SocketNodeEnv.shape.CORS_ORIGIN,
  /** Any length here (a warning under 32 bytes): only a real socket node refuses a short secret. */
  JWT_SECRET: z.string().min(1).optional(),
  HERALD_API_KEY: z.string().min(16, 'expected at least 16 characters').optional(),
  /** Largest event payload the publisher and the publish API accept, as JSON bytes. */
  HERALD_MAX_PAYLOAD_BYTES: envInt(1, 64 * 1024 * 1024).optional(),
  REDIS_URL: envRedisUrl.optional(),
  HERALD_REDIS_PREFIX: envPrefix.default('{herald}'),
  HERALD_PARTITIONS: commonEnv.HERALD_PARTITIONS,
  HERALD_LOG_LEVEL: envLogLevel.default('info'),
  HERALD_REDIS_TIMEOUT_MS: commonEnv.HERALD_REDIS_TIMEOUT_MS,
  HERALD_ACK_TIMEOUT_MS: envInt(0, 24 * 3600 * 1000).default(DEFAULT_ACK_TIMEOUT_MS),
  ...inboxEnv,
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'expected an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().min(3).optional(),
  HERALD_DEMO_USER: UserId.default('demo-user'),
  /** 0 turns the example service's periodic notifications off. */
  HERALD_DEMO_INTERVAL_MS: envInt(0, 24 * 3600 * 1000).default(5_000),
});

export type LocalStackConfig = z.output<typeof localStackEnv>;
