import type { JobsOptions } from 'bullmq';
import type { EventJobItem, FallbackJobData, FallbackPolicy } from '@herald/contracts';

/** Escapes the characters a fallback job id may not carry raw: ':' (BullMQ) and our own '%' and '|'. */
function escapeIdPart(value: string): string {
  return value.replace(/[%:|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * The id of the one fallback job of (event, slice of a split `toUsers`):
 * `fbp-{eventId}|{part}`, the event id escaped. BullMQ ignores an add whose id already
 * exists, so a retried events job never schedules a second fallback job for the same
 * slice. The event id is escaped and followed by a character it cannot contain raw,
 * so two different pairs never share an id. The `fbp-` prefix keeps these ids apart
 * from those of the one-job-per-user (`v: 1`) scheme, `fb-{eventId}|{userId}`, which
 * may still sit in Redis during an upgrade (user "0" would otherwise collide with part 0).
 */
export function fallbackJobId(eventId: string, part: number): string {
  return `fbp-${escapeIdPart(eventId)}|${part}`;
}

/** A user the fallback check is for: its seq, and its plain devices online at the emit (member → entry expiry). */
export interface FallbackUser {
  userId: string;
  seq: number;
  plain?: Record<string, number>;
}

export interface FallbackJobSettings {
  /** When the check runs, after publishing: the ack timeout. */
  delayMs: number;
  attempts: number;
  backoffMs: number;
}

/**
 * Completed fallback jobs are kept a day so their ids keep deduplicating adds from a
 * late retry of the events job; failed ones are kept (BullMQ's default) so an
 * undeliverable fallback stays visible in the failed set and is never dropped silently.
 */
const RETENTION = { removeOnComplete: { age: 24 * 3_600, count: 100_000 } } as const satisfies JobsOptions;

/**
 * The delayed fallback check for the users of one event (one item of an events job, so
 * at most `USERS_PER_JOB` users) that must ack it: one job for all of them, not one per
 * user, carrying each user's seq for the ack check.
 */
export function toFallbackJob(
  event: EventJobItem,
  fallback: FallbackPolicy,
  users: readonly FallbackUser[],
  settings: FallbackJobSettings,
): { name: string; data: FallbackJobData; opts: JobsOptions } {
  const plainAtEmit: Record<string, Record<string, number>> = {};
  for (const user of users) if (user.plain) plainAtEmit[user.userId] = user.plain;
  return {
    name: event.event,
    data: {
      v: 3,
      eventId: event.eventId,
      userIds: users.map((user) => user.userId),
      seqs: users.map((user) => user.seq),
      ...(Object.keys(plainAtEmit).length > 0 ? { plainAtEmit } : {}),
      event: event.event,
      payload: event.payload,
      fallback,
      publishedAt: event.publishedAt,
    },
    opts: {
      ...RETENTION,
      jobId: fallbackJobId(event.eventId, event.part.index),
      delay: settings.delayMs,
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
    },
  };
}
