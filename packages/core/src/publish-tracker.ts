import type { Redis } from 'ioredis';

/** The one method `@socket.io/redis-emitter` calls on its Redis client. */
export interface PublishClient {
  publish(channel: string, message: string | Buffer): Promise<number>;
}

export interface PublishTracker {
  /** Pass this to `new Emitter(tracker.client, …)` instead of the connection itself. */
  client: PublishClient;
  /** Resolves once Redis accepted every PUBLISH made so far; rejects if any failed. */
  settled(): Promise<void>;
}

/**
 * Wraps a connection so the PUBLISHes of `@socket.io/redis-emitter` can be awaited.
 * The emitter calls `redisClient.publish()` and drops the promise, so a PUBLISH that
 * fails (Redis gone) would go unnoticed and a worker would complete its job as if the
 * event had been delivered. Create one tracker per job, emit, then `await settled()`:
 * a failure then fails the job and BullMQ retries it.
 */
export function trackPublishes(redis: Redis): PublishTracker {
  const pending: Array<Promise<number>> = [];
  return {
    client: {
      publish(channel, message) {
        const sent = redis.publish(channel, message);
        // Observed here so a failure is never an unhandled rejection; settled() still reports it.
        sent.catch(() => undefined);
        pending.push(sent);
        return sent;
      },
    },
    async settled() {
      await Promise.all(pending);
    },
  };
}
