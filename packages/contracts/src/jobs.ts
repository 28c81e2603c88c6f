import { z } from 'zod';
import { FallbackPolicy, JobTarget } from './envelope.js';
import { EventId, UserId } from './ids.js';

/** Queue names, under the configured prefix. */
export const QueueName = { events: 'events', fallback: 'fallback' } as const;

/** How many user ids one events job carries; larger `toUsers` are split into several jobs. */
export const USERS_PER_JOB = 500;

/** How many events one events job carries at most; the publisher packs concurrent publishes into one job. */
export const EVENTS_PER_JOB = 1_000;

/** One event (or one slice of a split `toUsers`) inside an events job. */
export const EventJobItem = z.object({
  eventId: EventId,
  event: z.string().min(1),
  payload: z.unknown(),
  target: JobTarget,
  fallback: FallbackPolicy.nullable(),
  publishedAt: z.number(),
  /** Which slice of a split `toUsers` this item carries. */
  part: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }),
});
export type EventJobItem = z.infer<typeof EventJobItem>;

/**
 * Data of a job on the events queue: a batch of events, validated again when the
 * dispatcher reads it back (each item on its own, so one bad item does not hide the
 * others). Batching amortises the per-job round trips of the queue over many events.
 */
export const EventJobData = z.object({
  events: z.array(EventJobItem).min(1).max(EVENTS_PER_JOB),
});
export type EventJobData = z.infer<typeof EventJobData>;

/** The ack check of one event (or `toUsers` slice) for its users. */
export const FallbackCheck = z
  .object({
    eventId: EventId,
    /** The users of one item of an events job (at most `USERS_PER_JOB`). */
    userIds: z.array(UserId).min(1).max(USERS_PER_JOB),
    event: z.string().min(1),
    payload: z.unknown(),
    fallback: FallbackPolicy,
    publishedAt: z.number(),
    /** Each user's seq for this event, in the order of `userIds`: the check sends only if the user's acked seq is below it. */
    seqs: z.array(z.number().int().positive()).min(1).max(USERS_PER_JOB),
    /**
     * Users that had plain (non-acking) devices online when the event was emitted: user id →
     * presence member → the entry's expiry then (ms). Such a device still online at the check,
     * with an entry refreshed since, received the event.
     */
    plainAtEmit: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  })
  .refine((data) => data.seqs.length === data.userIds.length, {
    message: 'seqs must have one entry per user id',
    path: ['seqs'],
  });
export type FallbackCheck = z.infer<typeof FallbackCheck>;

/**
 * Data of a delayed job on the fallback queue: the ack checks of the events with a fallback
 * policy of the events jobs one dispatcher delivered within its check linger (one or more,
 * at most `EVENTS_PER_JOB`). One delayed job for many events jobs, not per event or user: a
 * delayed add is a BullMQ script that costs Redis several times what delivering the event does.
 */
export const FallbackJobData = z.object({
  checks: z.array(FallbackCheck).min(1).max(EVENTS_PER_JOB),
});
export type FallbackJobData = z.infer<typeof FallbackJobData>;

/** Splits a list into slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
