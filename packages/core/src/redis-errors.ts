import type { Logger } from './logger.js';

/** How often a connection's errors may reach the log at warn; the rest go at debug and are counted. */
export const REDIS_ERROR_LOG_EVERY_MS = 5_000;

/**
 * An `error` listener for a Redis connection (without one, an error event crashes the
 * process). ioredis reconnects by itself, and while a Cluster's master fails over it emits an
 * error on every reconnect attempt, some 100–150 in one failover: logging each at warn floods
 * the log. So one line at warn per `everyMs` says what happened and how many errors came since
 * the last such line (`suppressed`); every error is still logged at debug.
 *
 * @example
 * redis.on('error', redisErrorLogger(log, 'redis connection error'));
 */
export function redisErrorLogger(
  log: Logger,
  message: string,
  everyMs = REDIS_ERROR_LOG_EVERY_MS,
): (error: Error) => void {
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error) => {
    const now = performance.now();
    if (now - lastWarnAt >= everyMs) {
      lastWarnAt = now;
      log.warn({ err: error, ...(suppressed > 0 ? { suppressed } : {}) }, message);
      suppressed = 0;
    } else {
      suppressed += 1;
      log.debug({ err: error }, message);
    }
  };
}
