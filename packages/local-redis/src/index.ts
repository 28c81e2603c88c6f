export { resolveRedis } from './resolve-redis.js';
export type { RedisSource, ResolveRedisOptions, ResolvedRedis } from './resolve-redis.js';
export { freePort, startRedisServer, waitForRedis } from './redis-server-child.js';
export type { RedisServerChild, StartRedisServerOptions } from './redis-server-child.js';
export { redactRedisUrl } from './resolve-redis.js';
