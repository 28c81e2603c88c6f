/**
 * The one place the bench decides which Redis it runs against and how its processes
 * reach it. Everything else takes a `RedisTarget`: the orchestrator opens its own
 * connection with `openRedis`, every child gets `redisEnv(target)` in its environment,
 * and the figures read from Redis (`INFO` sections) go through `readInfo`, which a
 * cluster target will have to sum over its nodes.
 *
 * Only a single Redis exists today (`REDIS_URL`, else a private `redis-server`). A
 * `--redis cluster` option would add a `kind: 'cluster'` target here: started with
 * `startRedisCluster` (`@herald/local-redis`), its processes given `REDIS_CLUSTER_NODES`
 * (core's `RedisConnectionSpec`), the orchestrator's connection opened with
 * `createRedisClient`, and `INFO` summed over the masters. Nothing outside this file would
 * change shape.
 */
import { Redis } from '@herald/core';
import { resolveRedis } from '@herald/local-redis';

export interface RedisTarget {
  kind: 'single';
  url: string;
  /** `env`: the caller's `REDIS_URL` (shared: the run's keys are removed afterwards); `child`: a private redis-server. */
  source: 'env' | 'child' | 'container';
  /** Stops what was started for the run (a no-op for `REDIS_URL`). */
  stop(): Promise<void>;
}

/** `REDIS_URL` when set, else a private `redis-server` (noeviction, no persistence) for the run. */
export async function resolveRedisTarget(): Promise<RedisTarget> {
  const resolved = await resolveRedis({ tryContainer: false });
  return { kind: 'single', url: resolved.url, source: resolved.source, stop: () => resolved.stop() };
}

/** What a child process needs in its environment to reach the target (Herald's apps read `REDIS_URL`). */
export function redisEnv(target: RedisTarget): Record<string, string> {
  return { REDIS_URL: target.url };
}

/** The orchestrator's own connection (queue counts, presence, INFO). */
export function openRedis(target: RedisTarget): Redis {
  // A single target: a plain `Redis`, whose INFO and keys are the whole server's.
  const redis = new Redis(target.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  return redis;
}

/** One `INFO` section as name → value. */
export async function readInfo(redis: Redis, section: string): Promise<Map<string, string>> {
  const text = await redis.info(section);
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Redis's CPU time so far (`used_cpu_user + used_cpu_sys` of `INFO cpu`), in µs. */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const cpu = await readInfo(redis, 'cpu');
  const seconds = Number(cpu.get('used_cpu_user') ?? 0) + Number(cpu.get('used_cpu_sys') ?? 0);
  return Math.round(seconds * 1_000_000);
}

/** `used_memory` of `INFO memory`, in bytes. */
export async function redisUsedMemory(redis: Redis): Promise<number> {
  const memory = await readInfo(redis, 'memory');
  return Number(memory.get('used_memory') ?? 0);
}
