import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import type { RedisClient } from './redis-client.js';
import { TimeoutError, withTimeout } from './with-timeout.js';

/** How long a request path waits for Redis by default (`HERALD_REDIS_TIMEOUT_MS`). */
export const DEFAULT_REDIS_TIMEOUT_MS = 2_000;

/**
 * Runs one Redis-bound operation of a request under the connection's deadline. Also a
 * place to ask, before starting work that is not a single call, whether to start at all.
 */
export type RedisDeadline = (<T>(operation: () => Promise<T>, what: string) => Promise<T>) & {
  /** The bound, in milliseconds. */
  readonly timeoutMs: number;
  /**
   * The `unavailable` error to refuse `what` with at once, while the connection is down
   * after having been up (it is reconnecting); `undefined` when the work may start.
   */
  refusal(what: string): HeraldError | undefined;
  /**
   * Whether the connection is down after having been up. Before the first `ready`
   * (start-up) it is not: work may wait for the connection, within the deadline.
   */
  isDown(): boolean;
};

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
export function createRedisDeadline(redis: RedisClient, timeoutMs = DEFAULT_REDIS_TIMEOUT_MS): RedisDeadline {
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
  const isDown = () => wasReady && redis.status !== 'ready';
  const refusal = (what: string) => (isDown() ? unavailable(what, `connection ${redis.status}`) : undefined);

  const run = async <T>(operation: () => Promise<T>, what: string): Promise<T> => {
    const refused = refusal(what);
    if (refused) throw refused;
    try {
      return await withTimeout(operation(), timeoutMs, what);
    } catch (error) {
      if (error instanceof TimeoutError) throw unavailable(what, `no answer in ${timeoutMs} ms`);
      throw error;
    }
  };
  return Object.assign(run, { timeoutMs, refusal, isDown });
}
