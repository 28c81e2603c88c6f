import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { SCRIPT_COMMANDS, defineHeraldScripts } from './herald-scripts.js';
import { parseRedisUrl, withClusterNodesAsUrl, type RedisConnectionSpec } from './redis-url.js';

export {
  envRedisClusterNodes,
  parseRedisClusterNodes,
  type RedisConnectionSpec,
  type RedisNodeAddress,
} from './redis-url.js';

/**
 * Commands whose slot ioredis 5.11's auto-pipelining gets wrong on a cluster: XGROUP and XINFO
 * (`@ioredis/commands` knows no key for them: the key follows a subcommand), and Herald's
 * scripts (for a command it does not know, auto-pipelining hashes the first argument, here
 * the number of keys). In an auto-pipeline they go to the wrong master and fail (`MOVED`, or
 * "All keys in the pipeline should belong to the same slots allocation group"); sent alone,
 * ioredis finds a script's keys, and follows the MOVED of an XGROUP or XINFO.
 */
const MISROUTED_WHEN_AUTO_PIPELINED = ['xgroup', 'xinfo', ...SCRIPT_COMMANDS];

/** A connection to one Redis (`Redis`) or to a Redis Cluster (`Cluster`); both have `duplicate()`. */
export type RedisClient = Redis | Cluster;

/** Whether a connection is to a Redis Cluster, where each command, MULTI and script must stay in one slot. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * The connection spec an environment names: `REDIS_CLUSTER_NODES` for a cluster, else
 * `REDIS_URL` (`redis://…`, or `redis-cluster://host:port,…`; default `redis://127.0.0.1:6379`).
 * Both set is refused rather than one silently winning. Empty values count as unset, as in `parseEnv`.
 */
export function redisSpecFromEnv(env: NodeJS.ProcessEnv = process.env): RedisConnectionSpec {
  return parseRedisUrl(withClusterNodesAsUrl(env).REDIS_URL?.trim() || 'redis://127.0.0.1:6379');
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
  if (spec.username !== undefined) redisOptions.username ??= spec.username;
  if (spec.password !== undefined) redisOptions.password ??= spec.password;
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
  onCluster.autoPipeliningIgnoredCommands = [
    ...new Set([...MISROUTED_WHEN_AUTO_PIPELINED, ...(autoPipeliningIgnoredCommands ?? [])]),
  ];
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
