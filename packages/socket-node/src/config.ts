import { z } from 'zod';
import { commonEnv, envInt, envList, envPort, type Logger } from '@herald/core';
import { DEFAULT_MAX_BUFFERED_BYTES, MIN_MAX_BUFFERED_BYTES } from './buffered-bytes-cap.js';
import { describeBadOrigins } from './origin-check.js';
import type { SocketNodeOptions } from './socket-node.js';
import { checkJwtEnv, jwtEnv, jwtOptionsFromEnv, whenJwtEnvParsed } from './verification-keys.js';

/**
 * Presence must turn a dead node's users offline within 30 s (issue 2), and an
 * entry lives at most one TTL without a heartbeat, so the TTL may not exceed it.
 */
export const MAX_PRESENCE_TTL_MS = 30_000;

/** The socket node's variables, each checked on its own. */
const SocketNodeVariables = z.object({
  ...commonEnv,
  PORT: envPort.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  WS_PATH: z.string().regex(/^\//, 'expected a path starting with "/"').default('/socket.io/'),
  /** Comma-separated exact origins, or `*` alone (any origin, no credentials); empty means no cross-origin browser access. */
  CORS_ORIGIN: envList
    .pipe(
      z.array(z.string()).superRefine((origins, context) => {
        const problem = describeBadOrigins(origins);
        if (problem)
          context.addIssue({ code: 'custom', message: `expected exact origins or "*" alone: ${problem}` });
      }),
    )
    .default([]),
  /** JWT_SECRET and HERALD_JWT_*: keys, algorithms, iss / aud, clock tolerance (verification-keys.ts). */
  ...jwtEnv,
  HERALD_TOKEN_EXPIRY_WARNING_S: envInt(0, 86_400).default(60),
  HERALD_PRESENCE_TTL_MS: envInt(1_000, MAX_PRESENCE_TTL_MS).default(20_000),
  HERALD_MAX_MESSAGE_BYTES: envInt(1_024, 100 * 1_048_576).default(65_536),
  /** Bytes waiting for one connection before it is cut as a slow consumer; 0 = no cap. */
  HERALD_MAX_BUFFERED_BYTES: envInt(0, 1_073_741_824)
    .refine((bytes) => bytes === 0 || bytes >= MIN_MAX_BUFFERED_BYTES, {
      message: `expected 0 (no cap) or an integer >= ${MIN_MAX_BUFFERED_BYTES}`,
    })
    .default(DEFAULT_MAX_BUFFERED_BYTES),
  HERALD_CLIENT_EVENT_RATE: envInt(0, 1_000_000).default(20),
  HERALD_CLIENT_EVENT_BURST: envInt(1, 1_000_000).default(40),
  HERALD_RATE_LIMIT_DISCONNECT_AFTER: envInt(0, 1_000_000).default(100),
  HERALD_MAX_DEVICES_PER_USER: envInt(0, 1_000_000).default(20),
  HERALD_HANDSHAKE_RATE: envInt(0, 1_000_000).default(50),
  HERALD_HANDSHAKE_BURST: envInt(1, 1_000_000).default(100),
  /** `false`, `true` (one proxy) or how many reverse proxies' X-Forwarded-For to believe. */
  HERALD_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2})$/i, 'expected true, false or a number of proxies')
    .transform((value) => {
      const lower = value.toLowerCase();
      return lower === 'true' ? 1 : lower === 'false' ? 0 : Number(value);
    })
    .default(0),
  HERALD_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'expected up to 100 letters, digits and _ . : -')
    .optional(),
});
/**
 * The socket node's environment. Names follow the original module where it had them.
 * The JWT keys are checked together (a secret under 32 bytes, a key no algorithm fits…).
 */
export const SocketNodeEnv = SocketNodeVariables.superRefine(checkJwtEnv, whenJwtEnvParsed);
export type SocketNodeEnv = z.output<typeof SocketNodeEnv>;

/** Maps a parsed environment onto `startSocketNode` options. */
export function socketNodeOptionsFromEnv(env: SocketNodeEnv, logger: Logger): SocketNodeOptions {
  return {
    redisUrl: env.REDIS_URL,
    prefix: env.HERALD_REDIS_PREFIX,
    partitions: env.HERALD_PARTITIONS,
    ...(env.JWT_SECRET !== undefined ? { jwtSecret: env.JWT_SECRET } : {}),
    jwt: jwtOptionsFromEnv(env),
    tokenExpiryWarningS: env.HERALD_TOKEN_EXPIRY_WARNING_S,
    port: env.PORT,
    host: env.HOST,
    wsPath: env.WS_PATH,
    corsOrigins: env.CORS_ORIGIN,
    presenceTtlMs: env.HERALD_PRESENCE_TTL_MS,
    redisTimeoutMs: env.HERALD_REDIS_TIMEOUT_MS,
    maxMessageBytes: env.HERALD_MAX_MESSAGE_BYTES,
    maxBufferedBytes: env.HERALD_MAX_BUFFERED_BYTES,
    clientEventRate: env.HERALD_CLIENT_EVENT_RATE,
    clientEventBurst: env.HERALD_CLIENT_EVENT_BURST,
    rateLimitDisconnectAfter: env.HERALD_RATE_LIMIT_DISCONNECT_AFTER,
    maxDevicesPerUser: env.HERALD_MAX_DEVICES_PER_USER,
    handshakeRate: env.HERALD_HANDSHAKE_RATE,
    handshakeBurst: env.HERALD_HANDSHAKE_BURST,
    trustProxy: env.HERALD_TRUST_PROXY,
    ...(env.HERALD_NODE_ID ? { nodeId: env.HERALD_NODE_ID } : {}),
    logger,
  };
}
