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
 * Adds events jobs and sequences their events, one MULTI per job: each user-targeted
 * event gets its users' next seq and goes into their inboxes in the same transaction that
 * queues its job. So an event's slice is sequenced, in the inbox and queued, or none of
 * these (a crash or a Redis error in between cannot leave a seq without its event, or the
 * reverse), and events that one producer publishes one after another (awaiting each) get
 * their seqs in that order, whichever dispatcher replica delivers them later and however
 * those replicas interleave: order is fixed before any dispatcher sees them.
 *
 * The transactions are written together, in order, on one connection, and Redis runs each
 * as soon as it arrives: a dispatcher can deliver the first 500 users of a 10,000-user
 * `toUsers` while Redis still sequences the others, instead of waiting for all 20 slices
 * (sequencing 10,000 users takes Redis tens of milliseconds).
 *
 * Each job gets its own id (a UUID), recorded with each (event id, part) it sequences and
 * with the seqs of its users: a later job carrying the same pair (a republish) finds the
 * record already there and the dispatcher skips the pair in that job, while a retry of
 * the first job delivers it again with the same seqs.
 *
 * Resolves to one outcome per job, in order: `undefined` once it is in Redis, or the
 * error that kept it out.
 */
export async function addSequencedJobs(
  queue: Queue<EventJobData>,
  keys: RedisKeys,
  jobs: readonly EventJob[],
  settings: InboxSettings,
): Promise<Array<unknown>> {
  // BullMQ's view of the connection (a proxy over the ioredis instance that also holds
  // its scripts); ours are defined on the same instance, so one MULTI can run both.
  const client = await queue.getBackend().client;
  defineInboxCommands(client as unknown as Redis);
  const sent: Array<Promise<unknown>> = [];
  for (const job of jobs) {
    const jobId = randomUUID();
    const items: SequenceItem[] = job.data.events.map((item, i) => ({
      eventId: item.eventId,
      part: item.part.index,
      userIds: item.target.kind === 'users' ? item.target.userIds : [],
      event: item.event,
      payload: item.payload,
      payloadJson: job.payloadJsons?.[i],
      publishedAt: item.publishedAt,
    }));
    const multi = client.multi();
    let added: Promise<unknown>;
    try {
      queueSequencing(multi as unknown as ChainableCommander, keys, jobId, items, settings);
      // BullMQ queues its add script on the transaction synchronously (its result comes
      // with EXEC's), so every MULTI of the batch is written in one go, in publish order,
      // with no other batch's in between.
      added = new Job(queue, job.name, job.data, { ...job.opts, jobId }, jobId).addJob(multi);
    } catch (error) {
      // Nothing of this MULTI was written; the jobs before it stand, the ones after still go.
      sent.push(Promise.resolve(error ?? new Error('addJob failed')));
      continue;
    }
    sent.push(
      Promise.all([multi.exec(), added]).then(
        ([results]) => {
          for (const [error] of (results ?? []) as Array<[Error | null, unknown]>) if (error) return error;
          return undefined;
        },
        (error: unknown) => error ?? new Error('EXEC failed'),
      ),
    );
  }
  return Promise.all(sent);
}
