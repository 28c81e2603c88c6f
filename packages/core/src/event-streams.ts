import type { RedisKeys } from './keys.js';
import type { Redis } from './redis.js';

/** The consumer group every dispatcher reads the partition streams in. */
export const DISPATCHERS_GROUP = 'dispatchers';

/**
 * Creates the dispatchers' group on every partition stream (and the stream itself) where
 * it is missing. A group created after entries were appended still reads them: it starts
 * at `0`, and entries are only trimmed once the group acknowledged them.
 */
export async function ensureDispatcherGroups(redis: Redis, keys: RedisKeys): Promise<void> {
  await Promise.all(
    keys.partitionNumbers.map(async (partition) => {
      try {
        await redis.xgroup('CREATE', keys.stream(partition), DISPATCHERS_GROUP, '0', 'MKSTREAM');
      } catch (error) {
        if (!(error instanceof Error && error.message.includes('BUSYGROUP'))) throw error;
      }
    }),
  );
}

/** How far behind the dispatchers are, over every partition. */
export interface StreamBacklog {
  /** Entries in the streams (delivered and trimmed ones excluded). */
  length: number;
  /** Entries read by a dispatcher and not yet acknowledged. */
  pending: number;
  /** Entries appended and not yet read by any dispatcher (Redis 7's group `lag`; null where Redis cannot tell). */
  lag: number | null;
  /** Entries moved to the dead streams. */
  dead: number;
}

/** Reads the dispatchers' backlog over every partition stream (one round of commands per partition). */
export async function readStreamBacklog(redis: Redis, keys: RedisKeys): Promise<StreamBacklog> {
  const perPartition = await Promise.all(
    keys.partitionNumbers.map(async (partition) => {
      const [length, dead, groups] = await Promise.all([
        redis.xlen(keys.stream(partition)),
        redis.xlen(keys.deadStream(partition)),
        (redis.xinfo('GROUPS', keys.stream(partition)) as Promise<unknown[][]>).catch(() => []),
      ]);
      const group = groups
        .map((fields) => fieldsToObject(fields))
        .find((info) => info.name === DISPATCHERS_GROUP);
      return {
        length,
        dead,
        pending: Number(group?.pending ?? 0),
        lag: group?.lag === undefined || group.lag === null ? null : Number(group.lag),
      };
    }),
  );
  return perPartition.reduce<StreamBacklog>(
    (sum, p) => ({
      length: sum.length + p.length,
      pending: sum.pending + p.pending,
      lag: sum.lag === null || p.lag === null ? null : sum.lag + p.lag,
      dead: sum.dead + p.dead,
    }),
    { length: 0, pending: 0, lag: 0, dead: 0 },
  );
}

function fieldsToObject(fields: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = fields[i + 1];
  return out;
}
