import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import type { Redis } from './redis.js';

/** How long a request path waits for Redis by default (`HERALD_REDIS_TIMEOUT_MS`). */
export const DEFAULT_REDIS_TIMEOUT_MS = 2_000;

/** Runs one Redis-bound operation of a request under the connection's deadline. */
export type RedisDeadline = <T>(operation: () => Promise<T>, what: string) => Promise<T>;

/**
 * Bounds how long a request waits for Redis. Connections are made with
 * `maxRetriesPerRequest: null` (BullMQ needs it), so a command sent while Redis is
 * gone waits for the reconnect however long that takes; a door that needs Redis must
 * answer sooner. The deadline rejects with `unavailable`:
 *
 * - at once while the connection is down after having been up (it is reconnecting):
 *   the operation does not start, so nothing piles up behind an outage;
 * - after `timeoutMs` otherwise (Redis never reached yet, or reached but not
 *   answering). The operation was started then and may still run when Redis answers:
 *   callers must say so (a publish retried with the same `eventId` is deduped).
 */
export function createRedisDeadline(redis: Redis, timeoutMs = DEFAULT_REDIS_TIMEOUT_MS): RedisDeadline {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `createRedisDeadline: timeoutMs must be a positive integer; got ${String(timeoutMs)}`,
    );
  }
  let wasReady = redis.status === 'ready';
  redis.on('ready', () => {
    wasReady = true;
  });
  const unavailable = (what: string, detail: string, cause?: unknown) =>
    new HeraldError(
      HeraldErrorCode.unavailable,
      `Redis is unavailable (${detail}): ${what} failed; retry later`,
      {
        cause,
      },
    );

  return async (operation, what) => {
    if (wasReady && redis.status !== 'ready') {
      throw unavailable(what, `connection ${redis.status}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(what, `no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([operation(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
}
