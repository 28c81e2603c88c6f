import type { JobsOptions } from 'bullmq';
import { USERS_PER_JOB, chunk, type EventJobData, type PreparedEvent } from '@herald/contracts';

/** How long publishing the same event id again is a no-op. */
export const DEDUPLICATION_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Options of every events job. The retention keeps Redis bounded while leaving
 * enough history to inspect; failed jobs stay a week so a poison event can be
 * looked at before it disappears.
 */
const BASE_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
} as const satisfies JobsOptions;

/** One job to add to the events queue. */
export interface EventJob {
  name: string;
  data: EventJobData;
  opts: JobsOptions;
}

/**
 * Turns a prepared event into the jobs that carry it: one per `USERS_PER_JOB`
 * user ids, so a `toUsers` of 10,000 is 20 small jobs instead of one giant one
 * the dispatcher would have to hold (and retry) whole. Rooms and broadcast are one job.
 *
 * Each part is deduplicated on `${eventId}.p${index}` for 24 h (BullMQ throttle
 * mode: the key outlives the job, and removeOnComplete does not delete it), so
 * publishing the same event id twice enqueues it once. The split is deterministic,
 * so a repeated publish lines up part for part.
 */
export function toEventJobs(event: PreparedEvent): EventJob[] {
  const targets =
    event.target.kind === 'users'
      ? chunk(event.target.userIds, USERS_PER_JOB).map((userIds) => ({ kind: 'users' as const, userIds }))
      : [event.target];
  return targets.map((target, index) => ({
    name: event.event,
    data: {
      v: 1,
      eventId: event.eventId,
      event: event.event,
      payload: event.payload,
      target,
      fallback: event.fallback,
      publishedAt: event.publishedAt,
      part: { index, count: targets.length },
    },
    opts: {
      ...BASE_JOB_OPTIONS,
      deduplication: { id: `${event.eventId}.p${index}`, ttl: DEDUPLICATION_TTL_MS },
    },
  }));
}
