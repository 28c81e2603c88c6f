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

const FallbackJobDataV1 = z.object({
  v: z.literal(1),
  eventId: EventId,
  userId: UserId,
  event: z.string().min(1),
  payload: z.unknown(),
  fallback: FallbackPolicy,
  publishedAt: z.number(),
  seq: z.number().int().positive().optional(),
});

/** One event (or `toUsers` slice) and the users its fallback is for. */
const fallbackUsersShape = {
  eventId: EventId,
  /** The users of one item of an events job (at most `USERS_PER_JOB`). */
  userIds: z.array(UserId).min(1).max(USERS_PER_JOB),
  event: z.string().min(1),
  payload: z.unknown(),
  fallback: FallbackPolicy,
  publishedAt: z.number(),
};

const FallbackJobDataV2 = z.object({
  v: z.literal(2),
  ...fallbackUsersShape,
  seq: z.number().int().positive().optional(),
});

const fallbackCheckShape = {
  ...fallbackUsersShape,
  /** Each user's seq for this event, in the order of `userIds`: the check sends only if the user's acked seq is below it. */
  seqs: z.array(z.number().int().positive()).min(1).max(USERS_PER_JOB),
  /**
   * Users that had plain (non-acking) devices online when the event was emitted: user id →
   * presence member → the entry's expiry then (ms). Such a device still online at the check,
   * with an entry refreshed since, received the event.
   */
  plainAtEmit: z.record(z.string(), z.record(z.string(), z.number())).optional(),
};
const seqsMatchUsers = {
  check: (data: { seqs: unknown[]; userIds: unknown[] }) => data.seqs.length === data.userIds.length,
  message: 'seqs must have one entry per user id',
};

/** The ack check of one event (or `toUsers` slice) for its users. */
export const FallbackCheck = z
  .object(fallbackCheckShape)
  .refine(seqsMatchUsers.check, { message: seqsMatchUsers.message, path: ['seqs'] });
export type FallbackCheck = z.infer<typeof FallbackCheck>;

const FallbackJobDataV3 = z
  .object({ v: z.literal(3), ...fallbackCheckShape })
  .refine(seqsMatchUsers.check, { message: seqsMatchUsers.message, path: ['seqs'] });

const FallbackJobDataV4 = z.object({
  v: z.literal(4),
  /** The checks of the events with a fallback policy of one or more events jobs. */
  checks: z.array(FallbackCheck).min(2).max(EVENTS_PER_JOB),
});

/**
 * Data of a delayed job on the fallback queue: the ack checks of the events with a fallback
 * policy of the events jobs one dispatcher delivered within its check linger, as `v: 4` (at
 * most `EVENTS_PER_JOB` checks; `v: 3` when there is one). One delayed job for many events
 * jobs, not per event or user: a delayed add is a BullMQ script that costs Redis several
 * times what delivering the event does. `v: 1` (one job per (event, user)) and `v: 2` (no seqs:
 * no ack check) are still read, as such jobs may sit in Redis during an upgrade.
 */
export const FallbackJobData = z.discriminatedUnion('v', [
  FallbackJobDataV1,
  FallbackJobDataV2,
  FallbackJobDataV3,
  FallbackJobDataV4,
]);
export type FallbackJobData = z.infer<typeof FallbackJobData>;

/** Splits a list into slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
