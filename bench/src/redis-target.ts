/**
 * The one place the bench decides which Redis it runs against and how its processes
 * reach it. Everything else takes a `RedisTarget`: the orchestrator opens its own
 * connection with `openRedis`, every child gets `redisEnv(target)` in its environment,
 * and the figures read from Redis (`INFO` sections) go through this file, which sums them
 * over the masters of a cluster (`masterNodes`).
 *
 * `single`: `REDIS_URL`, else a private `redis-server`. `cluster` (`--redis cluster`): a
 * private 3-master Redis Cluster on loopback (`startRedisCluster`), reached by every process
 * through `REDIS_URL=redis-cluster://…`, as Herald's apps read it.
 */
import { createKeys, createRedis, isCluster, type Redis, type RedisClient } from '@herald/core';
import { keySlot, resolveRedis, startRedisCluster } from '@herald/local-redis';

export type RedisTargetKind = 'single' | 'cluster';
export const REDIS_TARGET_KINDS: readonly RedisTargetKind[] = ['single', 'cluster'];

/**
 * Masters of the `--redis cluster` target. No replicas: the bench measures the load Herald
 * puts on the masters, and a replica would only add the replication stream's CPU on the
 * same two cores.
 */
export const CLUSTER_MASTERS = 3;

export interface RedisTarget {
  kind: RedisTargetKind;
  url: string;
  /**
   * `env`: the caller's `REDIS_URL` (shared: the run's keys are removed afterwards); `child`: a
   * private redis-server; `cluster`: a private Redis Cluster of `CLUSTER_MASTERS` masters.
   */
  source: 'env' | 'child' | 'container' | 'cluster';
  /** Stops what was started for the run (a no-op for `REDIS_URL`). */
  stop(): Promise<void>;
}

/**
 * `single`: `REDIS_URL` when set, else a private `redis-server` (noeviction, no persistence).
 * `cluster`: a private `CLUSTER_MASTERS`-master cluster without replicas (`REDIS_URL` is ignored).
 */
export async function resolveRedisTarget(kind: RedisTargetKind = 'single'): Promise<RedisTarget> {
  if (kind === 'cluster') {
    const cluster = await startRedisCluster({ masters: CLUSTER_MASTERS, replicasPerMaster: 0 });
    return {
      kind,
      url: `redis-cluster://${cluster.nodesEnv}`,
      source: 'cluster',
      stop: () => cluster.stop(),
    };
  }
  const resolved = await resolveRedis({ tryContainer: false });
  return { kind, url: resolved.url, source: resolved.source, stop: () => resolved.stop() };
}

/** What a child process needs in its environment to reach the target (Herald's apps read `REDIS_URL`). */
export function redisEnv(target: RedisTarget): Record<string, string> {
  return { REDIS_URL: target.url };
}

/** The orchestrator's own connection (queue counts, presence, INFO): a `Redis`, or a `Cluster`. */
export function openRedis(target: RedisTarget): RedisClient {
  const redis = createRedis(target.url);
  redis.on('error', () => undefined);
  return redis;
}

/**
 * The connections whose INFO and keys make up the target: the `Redis` itself, or each master
 * of a `Cluster` (as its slot map stands once it is ready).
 */
export async function masterNodes(redis: RedisClient): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the Redis Cluster was not ready within 10 s')),
        10_000,
      );
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  const masters = redis.nodes('master');
  if (masters.length === 0) throw new Error('the Redis Cluster connection knows no master');
  return masters;
}

/** `host:port` of one node's connection, as reports name a master. */
export function nodeName(node: Redis): string {
  return `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
}

/** One `INFO` section of one server as name → value. */
export async function readInfo(node: Redis, section: string): Promise<Map<string, string>> {
  const text = await node.info(section);
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Each master's CPU time so far (`used_cpu_user + used_cpu_sys` of `INFO cpu`), in µs, by `host:port`. */
export async function redisCpuMicrosPerMaster(redis: RedisClient): Promise<Map<string, number>> {
  const masters = await masterNodes(redis);
  const readings = await Promise.all(
    masters.map(async (node) => {
      const cpu = await readInfo(node, 'cpu');
      const seconds = Number(cpu.get('used_cpu_user') ?? 0) + Number(cpu.get('used_cpu_sys') ?? 0);
      return [nodeName(node), Math.round(seconds * 1_000_000)] as const;
    }),
  );
  return new Map(readings);
}

/** Redis's CPU time so far, summed over the masters, in µs. */
export async function redisCpuMicros(redis: RedisClient): Promise<number> {
  let total = 0;
  for (const us of (await redisCpuMicrosPerMaster(redis)).values()) total += us;
  return total;
}

/** `used_memory` of `INFO memory`, summed over the masters, in bytes. */
export async function redisUsedMemory(redis: RedisClient): Promise<number> {
  const sizes = await Promise.all(
    (await masterNodes(redis)).map(async (node) =>
      Number((await readInfo(node, 'memory')).get('used_memory') ?? 0),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

export type CommandStats = Map<string, { calls: number; usec: number }>;

/** Per-command call counts and time since start (`INFO commandstats`), summed over the masters. */
export async function redisCommandStats(redis: RedisClient): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  const texts = await Promise.all((await masterNodes(redis)).map((node) => node.info('commandstats')));
  for (const text of texts) {
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const row = stats.get(match[1] as string) ?? { calls: 0, usec: 0 };
      row.calls += Number(match[2]);
      row.usec += Number(match[3]);
      stats.set(match[1] as string, row);
    }
  }
  return stats;
}

/** Version and `process_id` of each master (`INFO server`), by `host:port`. */
export async function redisServers(
  redis: RedisClient,
): Promise<Array<{ node: string; version: string; pid: number }>> {
  return Promise.all(
    (await masterNodes(redis)).map(async (node) => {
      const server = await readInfo(node, 'server');
      return {
        node: nodeName(node),
        version: server.get('redis_version') ?? 'unknown',
        pid: Number(server.get('process_id') ?? 0),
      };
    }),
  );
}

/**
 * Where the run's hash tags landed on a cluster, by master `host:port`: the partitions whose
 * tag (`{bench-x:7}`) its slots hold, and whether it holds the prefix's own tag (`{bench-x}`:
 * the fallback queue, the naive queue, client events). A master's share of the load follows
 * its partitions, so this is what explains a spread. Null on one Redis.
 */
export async function partitionsPerMaster(
  redis: RedisClient,
  prefix: string,
): Promise<Record<string, { partitions: number[]; prefixTag: boolean }> | null> {
  if (!isCluster(redis)) return null;
  await masterNodes(redis);
  const keys = createKeys(prefix);
  // `slots[slot]` lists the nodes serving it, the master first (ioredis's slot map).
  const ownerOf = (key: string) => redis.slots[keySlot(key)]?.[0] ?? 'unknown';
  const out: Record<string, { partitions: number[]; prefixTag: boolean }> = {};
  const entry = (node: string) => (out[node] ??= { partitions: [], prefixTag: false });
  for (const node of await masterNodes(redis)) entry(nodeName(node));
  for (const partition of keys.partitionNumbers)
    entry(ownerOf(keys.stream(partition))).partitions.push(partition);
  entry(ownerOf(keys.partitionsRecord)).prefixTag = true;
  return out;
}
