import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { resolveRedis, type ResolvedRedis } from '@herald/local-redis';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let redis: ResolvedRedis | undefined;

/**
 * One Redis for the whole run (REDIS_URL, else a container, else a private
 * redis-server). Tests isolate themselves by key prefix and queue names.
 */
export async function setup(project: TestProject): Promise<void> {
  redis ??= await resolveRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  redis = undefined;
}
