import { Redis, type RedisOptions } from 'ioredis';
import { defineHeraldScripts } from './herald-scripts.js';
import type { RedisClient } from './redis-client.js';

export { Redis } from 'ioredis';

/**
 * Opens an ioredis connection. `maxRetriesPerRequest: null` is required by
 * BullMQ's blocking connections and is harmless elsewhere: commands wait for a
 * reconnect instead of failing after 20 tries while Redis restarts.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, ...options });
  // Before any command: see defineHeraldScripts for what a late definition breaks.
  defineHeraldScripts(redis);
  return redis;
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
