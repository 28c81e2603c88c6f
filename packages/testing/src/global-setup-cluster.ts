import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startRedisCluster, type RedisCluster } from '@herald/local-redis';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let cluster: RedisCluster | undefined;

/**
 * One private Redis Cluster (3 masters, 3 replicas on loopback) for the whole run, provided
 * as `redisUrl: 'redis-cluster://…'`: tests that `inject('redisUrl')` and apps spawned with
 * that `REDIS_URL` run on the cluster unchanged. A project using this setup proves its tests
 * hold on Redis Cluster (every key of one call in one slot, per-partition reads, BullMQ on
 * `{herald}`) as well as on one Redis.
 */
export async function setup(project: TestProject): Promise<void> {
  cluster ??= await startRedisCluster();
  project.provide('redisUrl', `redis-cluster://${cluster.nodesEnv}`);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
  cluster = undefined;
}
