import { randomUUID } from 'node:crypto';
import { Job, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { EventJobData } from '@herald/contracts';
import {
  defineInboxCommands,
  queueSequencing,
  type InboxSettings,
  type Redis,
  type RedisKeys,
  type SequenceItem,
} from '@herald/core';
import type { EventJob } from './event-jobs.js';

/**
 * Adds events jobs and sequences their events in one MULTI: each user-targeted event
 * gets its users' next seq and goes into their inboxes in the same transaction that
 * queues it. So an event is sequenced, in the inbox and queued, or none of these (a
 * crash or a Redis error in between cannot leave a seq without its event, or the
 * reverse), and events that one producer publishes one after another (awaiting each)
 * get their seqs in that order, whichever dispatcher replica delivers them later and
 * however those replicas interleave: order is fixed before any dispatcher sees them.
 *
 * Each job gets its own id (a UUID), recorded with each (event id, part) it sequences:
 * a later job carrying the same pair (a republish) finds the record already there and
 * the dispatcher skips the pair in that job, while a retry of the first job delivers it
 * again with the same seqs.
 */
export async function addSequencedJobs(
  queue: Queue<EventJobData>,
  keys: RedisKeys,
  jobs: readonly EventJob[],
  settings: InboxSettings,
): Promise<void> {
  // BullMQ's view of the connection (a proxy over the ioredis instance that also holds
  // its scripts); ours are defined on the same instance, so one MULTI can run both.
  const client = await queue.getBackend().client;
  defineInboxCommands(client as unknown as Redis);
  const items: SequenceItem[] = [];
  const instances = jobs.map((job) => {
    const jobId = randomUUID();
    for (const item of job.data.events) {
      items.push({
        eventId: item.eventId,
        part: item.part.index,
        jobId,
        userIds: item.target.kind === 'users' ? item.target.userIds : [],
        event: item.event,
        payload: item.payload,
        publishedAt: item.publishedAt,
      });
    }
    return new Job(queue, job.name, job.data, { ...job.opts, jobId }, jobId);
  });
  const multi = client.multi();
  queueSequencing(multi as unknown as ChainableCommander, keys, items, settings);
  // On a transaction `addJob` only queues BullMQ's add script (its result comes with EXEC's).
  await Promise.all(instances.map((job) => job.addJob(multi)));
  const results = ((await multi.exec()) ?? []) as Array<[Error | null, unknown]>;
  for (const [error] of results) if (error) throw error;
}
