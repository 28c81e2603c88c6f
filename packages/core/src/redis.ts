import type { RedisOptions } from 'ioredis';
import { createRedisClient, type RedisClient } from './redis-client.js';
import { parseRedisUrl } from './redis-url.js';

export { Redis } from 'ioredis';

/**
 * Opens an ioredis connection to what `url` names: a `Redis` for `redis://` and `rediss://`,
 * a `Cluster` for `redis-cluster://host:port,…` (through `createRedisClient`, which moves the
 * options ioredis reads on the `Cluster`, such as `enableAutoPipelining`, there).
 * `maxRetriesPerRequest: null` is required by BullMQ's blocking connections and is harmless
 * elsewhere: commands wait for a reconnect instead of failing after 20 tries while Redis restarts.
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  return createRedisClient(parseRedisUrl(url), { redis: options });
}

/** Closes a connection politely, falling back to a hard disconnect if Redis is gone. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  // QUIT on a connection that is not ready waits in the offline queue for a reconnect that
  // may never come (Redis down since start-up): there is nothing to flush politely then.
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
