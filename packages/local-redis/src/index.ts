export { resolveRedis } from './resolve-redis.js';
export type { RedisSource, ResolveRedisOptions, ResolvedRedis } from './resolve-redis.js';
export { freePort, startRedisServer, waitForRedis } from './redis-server-child.js';
export type { RedisServerChild, StartRedisServerOptions } from './redis-server-child.js';
export { CLUSTER_SLOTS, keySlot, startRedisCluster } from './redis-cluster.js';
export type {
  ClusterNode,
  ClusterNodeRole,
  FailoverResult,
  RedisCluster,
  StartRedisClusterOptions,
} from './redis-cluster.js';
export { redactRedisUrl } from './resolve-redis.js';
