import { randomUUID } from 'node:crypto';
import { Job, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { HeraldError, HeraldErrorCode, type EventJobData } from '@herald/contracts';
import {
  defineInboxCommands,
  parseSequenceReply,
  queueSequencing,
  type InboxSettings,
  type Redis,
  type RedisKeys,
  type SequenceItem,
  type SequenceResult,
} from '@herald/core';
import type { JobOutcome } from './event-batcher.js';
import type { EventJob } from './event-jobs.js';

/** The `event_id_conflict` error of each item of `job` whose event id stands for another event. */
function conflicts(job: EventJob, results: readonly SequenceResult[]): Map<number, HeraldError> {
  const refused = new Map<number, HeraldError>();
  results.forEach((result, i) => {
    if (result.kind !== 'conflict') return;
    const { eventId } = job.data.events[i] as EventJobData['events'][number];
    const differ = result.differ.join(' and ');
    refused.set(
      i,
      new HeraldError(
        HeraldErrorCode.eventIdConflict,
        `eventId "${eventId}" was published within the last 24 h with another ${differ}: this event was not ` +
          'published. Use a new eventId for a new event; resending the same event, target, payload and fallback is deduped',
        {
          issues: result.differ.map((path) => ({
            path,
            message: `differs from the first publish of eventId "${eventId}"`,
          })),
        },
      ),
    );
  });
  return refused;
}

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
 * the first job delivers it again with the same seqs. The record also holds the event's
 * fingerprint: a later pair with another event, target, payload or fallback is refused with
 * `event_id_conflict` naming what differs (its job still goes in, and skips it).
 *
 * Nothing is written while the connection is not ready: ioredis would hold the MULTI and
 * run it after a reconnect, long after its publish was refused. Such a job is refused
 * `unavailable` instead, and was not sent.
 *
 * Resolves to one outcome per job, in order.
 */
export async function addSequencedJobs(
  queue: Queue<EventJobData>,
  keys: RedisKeys,
  jobs: readonly EventJob[],
  settings: InboxSettings,
): Promise<JobOutcome[]> {
  // BullMQ's view of the connection (a proxy over the ioredis instance that also holds
  // its scripts); ours are defined on the same instance, so one MULTI can run both.
  const client = await queue.getBackend().client;
  defineInboxCommands(client as unknown as Redis);
  if (client.status !== 'ready') {
    const error = new HeraldError(
      HeraldErrorCode.unavailable,
      `Redis is unavailable (connection ${client.status}): the events were not published; retry later (with the same eventId)`,
    );
    return jobs.map(() => ({ added: false, error }));
  }
  const sent: Array<Promise<JobOutcome>> = [];
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
      fingerprint: job.fingerprints[i] as string,
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
      sent.push(Promise.resolve({ added: false, error: error ?? new Error('addJob failed') }));
      continue;
    }
    sent.push(
      Promise.all([multi.exec(), added]).then(
        ([results]): JobOutcome => {
          const replies = (results ?? []) as Array<[Error | null, unknown]>;
          for (const [error] of replies) if (error) return { added: false, error };
          // The sequencing script is the MULTI's first command.
          return { added: true, refused: conflicts(job, parseSequenceReply(replies[0]?.[1])) };
        },
        (error: unknown): JobOutcome => ({ added: false, error: error ?? new Error('EXEC failed') }),
      ),
    );
  }
  return Promise.all(sent);
}
