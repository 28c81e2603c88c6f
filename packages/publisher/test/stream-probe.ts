import { EventEntryData, type EventItem } from '@herald/contracts';
import {
  closeRedis,
  createKeys,
  createRedis,
  parseEntrySeqs,
  readStreamEntries,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';

export interface ProbedEntry {
  partition: number;
  id: string;
  events: EventItem[];
  seqs: Array<number[] | null>;
}

/** Looks at the partition streams and the raw keys under a prefix, the way an operator would. */
export interface StreamProbe {
  redis: RedisClient;
  keys: RedisKeys;
  /** Every entry of every partition's stream, validated as the dispatcher does, by partition then id. */
  entries(): Promise<ProbedEntry[]>;
  /** Every event item of every entry, with the entry carrying it. */
  events(): Promise<Array<{ entryId: string; data: EventItem }>>;
  /** Entries over every partition. */
  total(): Promise<number>;
  /** Every Redis key of the deployment (the prefix's tag and the partitions' tags), sorted. */
  allKeys(): Promise<string[]>;
  close(): Promise<void>;
}

export function probeStreams(redisUrl: string, prefix: string, partitions = 16): StreamProbe {
  const redis = createRedis(redisUrl);
  const keys = createKeys(prefix, partitions);
  const entries = async () =>
    (await readStreamEntries(redis, keys)).map(({ partition, id, fields }): ProbedEntry => ({
      partition,
      id,
      events: EventEntryData.parse({ events: JSON.parse(fields.events ?? 'null') }).events,
      seqs: parseEntrySeqs(fields.seqs ?? ''),
    }));
  return {
    redis,
    keys,
    entries,
    async events() {
      return (await entries()).flatMap((entry) => entry.events.map((data) => ({ entryId: entry.id, data })));
    },
    async total() {
      const lengths = await Promise.all(keys.partitionNumbers.map((p) => redis.xlen(keys.stream(p))));
      return lengths.reduce((sum, n) => sum + n, 0);
    },
    async allKeys() {
      const name = prefix.slice(1, -1);
      const found = new Set<string>();
      for (const pattern of [`${prefix}*`, `{${name}:*}*`]) {
        let cursor = '0';
        do {
          const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          for (const key of batch) found.add(key);
        } while (cursor !== '0');
      }
      return [...found].sort();
    },
    async close() {
      await closeRedis(redis);
    },
  };
}
