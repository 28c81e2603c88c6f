import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { Command } from 'ioredis';
import { isCluster, type RedisClient } from './redis-client.js';

/** The most replicas a write may be made to wait for (`HERALD_PUBLISH_WAIT_REPLICAS`). */
export const MAX_WAIT_REPLICAS = 16;

/**
 * Waits until `replicas` replicas of the master holding `key` have every write this
 * connection made to that master so far (`WAIT replicas timeoutMs`). Call it after a write
 * to `key` resolved: Redis replicates asynchronously, so a master killed right after
 * acknowledging a write can lose it to the replica that takes over; once `WAIT` counted the
 * replica, the write survives that. Rejects `unavailable` when fewer replicas confirmed
 * within `timeoutMs`: the write is on the master and may still be replicated, or lost.
 *
 * `WAIT` names no key, so on a cluster ioredis would send it to any node; in a pipeline with
 * a command on `key` (an `EXISTS`, read-only) it goes to `key`'s master on the same connection
 * the write went out on, which is the connection whose replication offset `WAIT` waits for.
 */
export async function waitForReplicas(
  redis: RedisClient,
  key: string,
  replicas: number,
  timeoutMs: number,
): Promise<void> {
  if (replicas <= 0) return;
  const results = (await redis.pipeline().exists(key).wait(replicas, timeoutMs).exec()) ?? [];
  const [, [error, reached] = [null, 0]] = results;
  if (error) throw error;
  if (Number(reached) < replicas) {
    throw new HeraldError(
      HeraldErrorCode.unavailable,
      `Only ${String(reached)} of ${replicas} replicas confirmed the write within ${timeoutMs} ms ` +
        `(HERALD_PUBLISH_WAIT_REPLICAS): it is on the master and may still be delivered, or lost if the master fails now`,
    );
  }
}

/**
 * Which server of `redis` holds `key`'s slot now: its `host:port` on a cluster (as ioredis
 * last learned the slots), one name for all keys on one Redis. Writes to keys of one server
 * share its connection, so one `WAIT` after them covers them all; several WAITs on one
 * connection would only run one after another.
 */
export function serverOf(redis: RedisClient, key: string): string {
  if (!isCluster(redis)) return 'the server';
  const slot = new Command('exists', [key]).getSlot();
  return redis.slots[slot]?.[0] ?? `slot ${slot}`;
}
