import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';

/** The consumer group every dispatcher reads the partition streams in. */
export const DISPATCHERS_GROUP = 'dispatchers';

/** Deliveries of a stream entry without an acknowledgement before it goes to the dead stream. */
export const DEFAULT_MAX_DELIVERIES = 5;

/**
 * Creates the dispatchers' group on every partition stream (and the stream itself) where
 * it is missing. A group created after entries were appended still reads them: it starts
 * at `0`, and entries are only trimmed once the group acknowledged them.
 */
export async function ensureDispatcherGroups(redis: RedisClient, keys: RedisKeys): Promise<void> {
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
  /** Entries ever appended to the streams (Redis 7's `entries-added`, which trimming does not lower). */
  added: number;
  /** Entries still in the streams: not yet trimmed (trimming removes only acknowledged ones). */
  length: number;
  /** Entries read by a dispatcher and not yet acknowledged. */
  pending: number;
  /** Whether the dispatchers' group has read every partition's last entry. */
  caughtUp: boolean;
  /** Caught up and nothing pending: every entry appended so far was delivered and acknowledged. */
  settled: boolean;
  /** Entries moved to the dead streams. */
  dead: number;
}

/** Reads the dispatchers' backlog over every partition stream (one round of commands per partition). */
export async function readStreamBacklog(redis: RedisClient, keys: RedisKeys): Promise<StreamBacklog> {
  const perPartition = await Promise.all(
    keys.partitionNumbers.map(async (partition) => {
      const stream = keys.stream(partition);
      const [info, groups, dead] = await Promise.all([
        (redis.xinfo('STREAM', stream) as Promise<unknown[]>).then(
          fieldsToObject,
          (): Record<string, unknown> => ({}),
        ),
        (redis.xinfo('GROUPS', stream) as Promise<unknown[][]>).catch(() => []),
        redis.xlen(keys.deadStream(partition)),
      ]);
      const group = groups.map(fieldsToObject).find((fields) => fields.name === DISPATCHERS_GROUP);
      const lastId = String((info['last-generated-id'] as string | undefined) ?? '0-0');
      return {
        added: Number(info['entries-added'] ?? 0),
        length: Number(info.length ?? 0),
        pending: Number(group?.pending ?? 0),
        caughtUp: lastId === '0-0' || group?.['last-delivered-id'] === lastId,
        dead,
      };
    }),
  );
  const total = perPartition.reduce(
    (sum, p) => ({
      added: sum.added + p.added,
      length: sum.length + p.length,
      pending: sum.pending + p.pending,
      caughtUp: sum.caughtUp && p.caughtUp,
      dead: sum.dead + p.dead,
    }),
    { added: 0, length: 0, pending: 0, caughtUp: true, dead: 0 },
  );
  return { ...total, settled: total.caughtUp && total.pending === 0 };
}

/**
 * Trims `stream` below what every group has acknowledged, with `XTRIM MINID`: at a group's
 * oldest pending entry, or else just after what it last read. New entries always get larger
 * ids, so an entry no group acknowledged is never trimmed. A stream without groups is left
 * alone: nothing says what was read.
 */
export async function trimAcknowledged(redis: RedisClient, stream: string): Promise<void> {
  const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
  let minId: string | undefined;
  for (const info of groups.map(fieldsToObject)) {
    let keepFrom = idAfter(String((info['last-delivered-id'] as string | undefined) ?? '0-0'));
    if (Number(info.pending ?? 0) > 0) {
      const summary = (await redis.xpending(stream, String(info.name))) as [
        number,
        string | null,
        ...unknown[],
      ];
      if (summary[1]) keepFrom = summary[1];
    }
    if (minId === undefined || compareIds(keepFrom, minId) < 0) minId = keepFrom;
  }
  if (minId !== undefined) await redis.xtrim(stream, 'MINID', minId);
}

/** The id just after `id` (`ms-seq`): XTRIM MINID keeps entries with ids at or above it. */
function idAfter(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}

/** Orders two stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function fieldsToObject(fields: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = fields[i + 1];
  return out;
}

/** One entry of a partition's stream, as stored. */
export interface StoredEntry {
  partition: number;
  id: string;
  fields: Record<string, string>;
}

/**
 * Every entry still in the partition streams (not yet trimmed), by partition then id: for
 * operators and tests looking at what the dispatchers have to deliver. Reads whole streams:
 * not for a hot path.
 */
export async function readStreamEntries(redis: RedisClient, keys: RedisKeys): Promise<StoredEntry[]> {
  const perPartition = await Promise.all(
    keys.partitionNumbers.map(async (partition) => {
      const raw = (await redis.xrange(keys.stream(partition), '-', '+')) as Array<[string, string[]]>;
      return raw.map(([id, list]): StoredEntry => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string;
        return { partition, id, fields };
      });
    }),
  );
  return perPartition.flat();
}
