import { z } from 'zod';
import { EventId, FallbackPolicy, JobTarget, UserId } from './envelope.js';

/** Queue names, under the configured prefix. */
export const QueueName = { events: 'events', fallback: 'fallback' } as const;

/** How many user ids one events job carries; larger `toUsers` are split into several jobs. */
export const USERS_PER_JOB = 500;

/** Data of a job on the events queue, validated again when the dispatcher reads it back. */
export const EventJobData = z.object({
  v: z.literal(1),
  eventId: EventId,
  event: z.string().min(1),
  payload: z.unknown(),
  target: JobTarget,
  fallback: FallbackPolicy.nullable(),
  publishedAt: z.number(),
  /** Which slice of a split `toUsers` this job carries. */
  part: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }),
});
export type EventJobData = z.infer<typeof EventJobData>;

/** Data of a delayed job on the fallback queue: one per (event, offline user). */
export const FallbackJobData = z.object({
  v: z.literal(1),
  eventId: EventId,
  userId: UserId,
  event: z.string().min(1),
  payload: z.unknown(),
  fallback: FallbackPolicy,
  publishedAt: z.number(),
  seq: z.number().int().positive().optional(),
});
export type FallbackJobData = z.infer<typeof FallbackJobData>;

/** Splits a list into slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
