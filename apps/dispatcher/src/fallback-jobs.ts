import type { JobsOptions } from 'bullmq';
import type { EventJobItem, FallbackJobData, FallbackPolicy } from '@herald/contracts';

/** Escapes the characters a fallback job id may not carry raw: ':' (BullMQ) and our own '%' and '|'. */
function escapeIdPart(value: string): string {
  return value.replace(/[%:|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * The id of the one fallback job of (event, user): `fb-{eventId}|{userId}`, each part
 * escaped. BullMQ ignores an add whose id already exists, so a retried events job
 * never schedules a second fallback for the same user. The parts are escaped and
 * joined with a character neither can contain raw, so two different pairs never
 * share an id (ids may contain '-', so `fb-a-b-c` would be ambiguous).
 */
export function fallbackJobId(eventId: string, userId: string): string {
  return `fb-${escapeIdPart(eventId)}|${escapeIdPart(userId)}`;
}

export interface FallbackJobSettings {
  graceMs: number;
  attempts: number;
  backoffMs: number;
}

/**
 * Completed fallback jobs are kept a day so their ids keep deduplicating adds from a
 * late retry of the events job; failed ones are kept (BullMQ's default) so an
 * undeliverable fallback stays visible in the failed set and is never dropped silently.
 */
const RETENTION = { removeOnComplete: { age: 24 * 3_600, count: 100_000 } } as const satisfies JobsOptions;

/** The delayed fallback jobs for the offline users of one event (one item of an events job). */
export function toFallbackJobs(
  event: EventJobItem,
  fallback: FallbackPolicy,
  offlineUserIds: readonly string[],
  settings: FallbackJobSettings,
): Array<{ name: string; data: FallbackJobData; opts: JobsOptions }> {
  return offlineUserIds.map((userId) => ({
    name: event.event,
    data: {
      v: 1,
      eventId: event.eventId,
      userId,
      event: event.event,
      payload: event.payload,
      fallback,
      publishedAt: event.publishedAt,
    },
    opts: {
      ...RETENTION,
      jobId: fallbackJobId(event.eventId, userId),
      delay: settings.graceMs,
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
    },
  }));
}
