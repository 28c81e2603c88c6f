import { isCluster, type RedisClient } from '@herald/core';

/** Keys matching a pattern and the bytes Redis holds for them (`MEMORY USAGE`, every nested value counted). */
export interface KeyCensus {
  count: number;
  bytes: number;
}

/**
 * Counts the keys matching `pattern` and adds up their `MEMORY USAGE ... SAMPLES 0`. Unlike
 * `used_memory`, this sees only the test's own prefix, so other tests sharing the Redis do
 * not blur the figure.
 */
export async function keyCensus(redis: RedisClient, pattern: string): Promise<KeyCensus> {
  // SCAN may return a key more than once.
  // SCAN sees one server's keys: on a cluster, every master's.
  const servers = isCluster(redis) ? redis.nodes('master') : [redis];
  let count = 0;
  let bytes = 0;
  for (const server of servers) {
    const seen = new Set<string>();
    for await (const batch of server.scanStream({ match: pattern, count: 1_000 }) as AsyncIterable<
      string[]
    >) {
      for (const key of batch) seen.add(key);
    }
    const found = [...seen];
    count += found.length;
    for (let i = 0; i < found.length; i += 1_000) {
      const pipeline = server.pipeline();
      for (const key of found.slice(i, i + 1_000)) pipeline.memory('USAGE', key, 'SAMPLES', 0);
      for (const [error, usage] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        bytes += typeof usage === 'number' ? usage : 0;
      }
    }
  }
  return { count, bytes };
}

/** The server's `used_memory` (INFO memory), in bytes. */
export async function usedMemory(redis: RedisClient): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}
