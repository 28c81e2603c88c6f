import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';

/**
 * Checks that this process uses the deployment's `HERALD_PARTITIONS`: the first process
 * to start stores its value in Redis, and every other compares. Two values would place a
 * user's keys in two partitions, so seqs and inboxes would fork and a dispatcher would
 * never read some streams: a mismatch stops the process with both values named.
 */
export async function checkPartitions(redis: RedisClient, keys: RedisKeys): Promise<void> {
  await redis.set(keys.partitionsRecord, String(keys.partitions), 'NX');
  const stored = await redis.get(keys.partitionsRecord);
  if (stored !== String(keys.partitions)) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `HERALD_PARTITIONS is ${keys.partitions} here but ${String(stored)} in Redis (${keys.partitionsRecord}), ` +
        'where the first process of this deployment stored it: every process must use the same value. ' +
        'Changing it needs a deployment with no events in flight and the key deleted.',
    );
  }
}
