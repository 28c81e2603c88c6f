import { z } from 'zod';
import { commonEnv, envInt, envList, envPort, type Logger } from '@herald/core';
import type { SocketNodeOptions } from './socket-node.js';

/**
 * Presence must turn a dead node's users offline within 30 s (issue 2), and an
 * entry lives at most one TTL without a heartbeat, so the TTL may not exceed it.
 */
export const MAX_PRESENCE_TTL_MS = 30_000;

/** The socket node's environment. Names follow the original module where it had them. */
export const SocketNodeEnv = z.object({
  ...commonEnv,
  PORT: envPort.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  WS_PATH: z.string().regex(/^\//, 'expected a path starting with "/"').default('/socket.io/'),
  /** Comma-separated exact origins; empty means no cross-origin browser access. */
  CORS_ORIGIN: envList
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^https?:\/\/[^/\s]+$/,
            'expected exact origins such as https://app.example.com (no "*", no trailing slash)',
          ),
      ),
    )
    .default([]),
  JWT_SECRET: z.string().min(32, 'expected a secret of at least 32 characters'),
  HERALD_PRESENCE_TTL_MS: envInt(1_000, MAX_PRESENCE_TTL_MS).default(20_000),
  HERALD_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'expected up to 100 letters, digits and _ . : -')
    .optional(),
});
export type SocketNodeEnv = z.output<typeof SocketNodeEnv>;

/** Maps a parsed environment onto `startSocketNode` options. */
export function socketNodeOptionsFromEnv(env: SocketNodeEnv, logger: Logger): SocketNodeOptions {
  return {
    redisUrl: env.REDIS_URL,
    prefix: env.HERALD_REDIS_PREFIX,
    jwtSecret: env.JWT_SECRET,
    port: env.PORT,
    host: env.HOST,
    wsPath: env.WS_PATH,
    corsOrigins: env.CORS_ORIGIN,
    presenceTtlMs: env.HERALD_PRESENCE_TTL_MS,
    ...(env.HERALD_NODE_ID ? { nodeId: env.HERALD_NODE_ID } : {}),
    logger,
  };
}
