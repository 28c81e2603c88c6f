import { Queue, type Job } from 'bullmq';
import { EventEntryData, QueueName, type EventItem } from '@herald/contracts';
import { closeRedis, createRedis, type Redis } from '@herald/core';

const ALL_STATES = [
  'waiting',
  'delayed',
  'active',
  'completed',
  'failed',
  'prioritized',
  'waiting-children',
] as const;

/** Looks at the events queue and the raw keys under a prefix, the way an operator would. */
export interface QueueProbe {
  queue: Queue<EventEntryData>;
  redis: Redis;
  jobs(): Promise<Job<EventEntryData>[]>;
  /** Every event item of every job (validated as EventEntryData), with the name of the job carrying it. */
  events(): Promise<Array<{ name: string; jobId: string; data: EventItem }>>;
  /** Sum over every job state. */
  total(): Promise<number>;
  /** Every Redis key under the prefix, sorted. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

export function probeQueue(redisUrl: string, prefix: string): QueueProbe {
  const redis = createRedis(redisUrl);
  const queue = new Queue<EventEntryData>(QueueName.events, { connection: redis, prefix });
  return {
    queue,
    redis,
    jobs: () => queue.getJobs([...ALL_STATES]),
    async events() {
      const jobs = await queue.getJobs([...ALL_STATES]);
      return jobs.flatMap((job) =>
        EventEntryData.parse(job.data).events.map((data) => ({
          name: job.name,
          jobId: job.id as string,
          data,
        })),
      );
    },
    async total() {
      const counts = await queue.getJobCounts(...ALL_STATES);
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    async keys() {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
      return found.sort();
    },
    async close() {
      await queue.close();
      await closeRedis(redis);
    },
  };
}
