import { z } from 'zod';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { envRedisUrl } from './config.js';
import { defineHeraldScripts } from './herald-scripts.js';

/** A connection to one Redis (`Redis`) or to a Redis Cluster (`Cluster`); both have `duplicate()`. */
export type RedisClient = Redis | Cluster;

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** Where Herald's Redis is: one server by URL, or a cluster by some of its nodes (ioredis discovers the rest). */
export type RedisConnectionSpec =
  { kind: 'url'; url: string } | { kind: 'cluster'; nodes: RedisNodeAddress[] };

const HOST_PORT = /^(?<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/;

/**
 * `REDIS_CLUSTER_NODES`: a comma-separated `host:port` list of cluster nodes
 * (`10.0.0.1:7000,10.0.0.2:7000`; IPv6 in brackets, `[::1]:7000`). Any one that answers is
 * enough to discover the rest; list several so start-up survives one being down.
 */
export const envRedisClusterNodes = z.string().transform((text, ctx): RedisNodeAddress[] => {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected at least one host:port' });
    return z.NEVER;
  }
  const nodes: RedisNodeAddress[] = [];
  for (const item of items) {
    const match = HOST_PORT.exec(item);
    const port = Number(match?.groups?.port);
    if (!match?.groups?.host || !Number.isInteger(port) || port < 1 || port > 65_535) {
      ctx.addIssue({
        code: 'custom',
        message: `'${item}' is not host:port with a port from 1 to 65535 (expected e.g. 10.0.0.1:7000,10.0.0.2:7000)`,
      });
      return z.NEVER;
    }
    nodes.push({ host: match.groups.host.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return nodes;
});

/** Parses a `REDIS_CLUSTER_NODES` value; throws `invalid_config` naming the variable and the bad item. */
export function parseRedisClusterNodes(text: string): RedisNodeAddress[] {
  const result = envRedisClusterNodes.safeParse(text);
  if (result.success) return result.data;
  const message = result.error.issues.map((issue) => issue.message).join('; ');
  throw new HeraldError(
    HeraldErrorCode.invalidConfig,
    `Invalid configuration: REDIS_CLUSTER_NODES: ${message}`,
    {
      issues: [{ path: 'REDIS_CLUSTER_NODES', message }],
    },
  );
}

/**
 * The connection spec an environment names: `REDIS_CLUSTER_NODES` for a cluster, else
 * `REDIS_URL` (default `redis://127.0.0.1:6379`). Both set is refused rather than one
 * silently winning. Empty values count as unset, as in `parseEnv`.
 */
export function redisSpecFromEnv(env: NodeJS.ProcessEnv = process.env): RedisConnectionSpec {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  const url = env.REDIS_URL?.trim();
  if (nodes && url) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'Invalid configuration: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    );
  }
  if (nodes) return { kind: 'cluster', nodes: parseRedisClusterNodes(nodes) };
  const parsed = envRedisUrl.safeParse(url || 'redis://127.0.0.1:6379');
  if (!parsed.success) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `Invalid configuration: REDIS_URL: ${parsed.error.issues[0]?.message}`,
    );
  }
  return { kind: 'url', url: parsed.data };
}

export interface RedisClientOptions {
  /**
   * Connection options: the Redis's for a URL, each node connection's for a cluster (ioredis
   * `redisOptions`). `maxRetriesPerRequest` defaults to `null`, as `createRedis` sets it
   * (BullMQ refuses a blocking connection without it). For a cluster, the options ioredis
   * reads on the `Cluster` itself are moved there: `enableAutoPipelining`,
   * `autoPipeliningIgnoredCommands`, `enableOfflineQueue`, `enableReadyCheck`, `lazyConnect`,
   * and `retryStrategy` (as `clusterRetryStrategy`, which reconnects the whole cluster).
   * @default { maxRetriesPerRequest: null }
   */
  redis?: RedisOptions;
  /**
   * Cluster-only ioredis options, ignored for a URL. `shardedSubscribers` is on unless set
   * here: it gives SSUBSCRIBE one subscriber connection per master (opened only once a channel
   * of that master is subscribed), routes each channel to its slot's master and resubscribes
   * after a failover. Off (ioredis's default), SSUBSCRIBE goes to one subscriber connection on
   * an arbitrary node: for a channel of another master it never settles, and no `smessage`
   * reaches the client even for the channels that did subscribe (ioredis 5.11).
   * @default { shardedSubscribers: true } (and ioredis's defaults for the rest)
   */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * Opens a connection for a spec, with `createRedis`'s defaults.
 *
 * On a cluster: every key of one command, MULTI or script must share a hash slot (a hash tag,
 * `{herald:3}:…`); a blocking command (XREADGROUP BLOCK, BullMQ's BZPOPMIN) holds the
 * connection to its slot's master, so blocking readers use `client.duplicate()`, as on one Redis.
 *
 * @example
 * const redis = createRedisClient(redisSpecFromEnv());
 * const reader = redis.duplicate();
 */
export function createRedisClient(spec: RedisConnectionSpec, options: RedisClientOptions = {}): RedisClient {
  const redisOptions: RedisOptions = { maxRetriesPerRequest: null, ...options.redis };
  if (spec.kind === 'url') {
    const redis = new Redis(spec.url, redisOptions);
    defineHeraldScripts(redis);
    return redis;
  }
  if (spec.nodes.length === 0) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'createRedisClient: a cluster spec needs at least one node',
    );
  }
  const {
    enableAutoPipelining,
    autoPipeliningIgnoredCommands,
    enableOfflineQueue,
    enableReadyCheck,
    lazyConnect,
    retryStrategy,
    // Where a node is comes from the spec and CLUSTER SLOTS; ioredis sets readOnly per node.
    host: _host,
    port: _port,
    path: _path,
    sentinels: _sentinels,
    readOnly: _readOnly,
    ...perNode
  } = redisOptions;
  const onCluster: ClusterOptions = {};
  if (enableAutoPipelining !== undefined) onCluster.enableAutoPipelining = enableAutoPipelining;
  if (autoPipeliningIgnoredCommands !== undefined)
    onCluster.autoPipeliningIgnoredCommands = autoPipeliningIgnoredCommands;
  if (enableOfflineQueue !== undefined) onCluster.enableOfflineQueue = enableOfflineQueue;
  if (enableReadyCheck !== undefined) onCluster.enableReadyCheck = enableReadyCheck;
  if (lazyConnect !== undefined) onCluster.lazyConnect = lazyConnect;
  if (retryStrategy !== undefined) onCluster.clusterRetryStrategy = retryStrategy;
  const cluster = new Cluster(
    spec.nodes.map((node) => ({ ...node })),
    { shardedSubscribers: true, ...onCluster, ...options.cluster, redisOptions: perNode },
  );
  // Before any command: see defineHeraldScripts for what a late definition breaks.
  defineHeraldScripts(cluster);
  return cluster;
}
