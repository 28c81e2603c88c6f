import { z } from 'zod';
import { FallbackPolicy, JobTarget } from './envelope.js';
import { EventId, UserId } from './ids.js';

/** BullMQ queue names, under the configured prefix (events travel on streams, not a queue). */
export const QueueName = { fallback: 'fallback' } as const;

/** How many user ids one slice of an event carries; a larger `toUsers` (of one partition) is split into several. */
export const USERS_PER_SLICE = 500;

/** How many events (or slices) one stream entry carries at most; the publisher packs concurrent publishes into one entry per partition. */
export const EVENTS_PER_ENTRY = 1_000;

/** How many ack checks one fallback job carries at most. */
export const EVENTS_PER_JOB = 1_000;

/** One event (or one slice of a `toUsers`) inside a stream entry. */
export const EventItem = z.object({
  eventId: EventId,
  event: z.string().min(1),
  payload: z.unknown(),
  target: JobTarget,
  fallback: FallbackPolicy.nullable(),
  publishedAt: z.number(),
  /**
   * Which slice of the event this item carries: a `toUsers` is split by partition, then
   * into slices of at most `USERS_PER_SLICE` users (partitions in ascending order), so the
   * split of a given event and target is always the same.
   */
  part: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }),
});
export type EventItem = z.infer<typeof EventItem>;

/**
 * The `events` field of a stream entry: the events (or slices) of one publisher batch
 * that fall in one partition, validated again when the dispatcher reads it back (each item
 * on its own, so one bad item does not hide the others). The entry's `seqs` field holds the
 * seqs the publisher assigned (see `parseEntrySeqs` in core).
 */
export const EventEntryData = z.object({
  events: z.array(EventItem).min(1).max(EVENTS_PER_ENTRY),
});
export type EventEntryData = z.infer<typeof EventEntryData>;

/** The ack check of one event (or `toUsers` slice) for its users. */
export const FallbackCheck = z
  .object({
    eventId: EventId,
    /** The users of one item of a stream entry (at most `USERS_PER_SLICE`). */
    userIds: z.array(UserId).min(1).max(USERS_PER_SLICE),
    event: z.string().min(1),
    payload: z.unknown(),
    fallback: FallbackPolicy,
    publishedAt: z.number(),
    /** Each user's seq for this event, in the order of `userIds`: the check sends only if the user's acked seq is below it. */
    seqs: z.array(z.number().int().positive()).min(1).max(USERS_PER_SLICE),
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
 * policy of the stream entries one dispatcher delivered within its check linger (one or more,
 * at most `EVENTS_PER_JOB`). One delayed job for many stream entries, not per event or user: a
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
