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

/** One event (or slice) of an events job whose users get the ack check. */
export interface CheckedItem {
  item: EventJobItem;
  fallback: FallbackPolicy;
  users: readonly FallbackUser[];
}

/**
 * The one delayed fallback job of an events job: the ack checks of all its events that
 * have a fallback policy (`v: 4`, or `v: 3` when there is one). One delayed add per
 * events job instead of one per event keeps the check from costing more Redis time than
 * the delivery. Its id is that of its first (eventId, part), which only this events job
 * delivers (the record says so), so a retry of the events job adds nothing twice.
 */
export function toFallbackJob(
  checked: readonly CheckedItem[],
  settings: FallbackJobSettings,
): { name: string; data: FallbackJobData; opts: JobsOptions } {
  const checks = checked.map(({ item, fallback, users }) => {
    const plainAtEmit: Record<string, Record<string, number>> = {};
    for (const user of users) if (user.plain) plainAtEmit[user.userId] = user.plain;
    return {
      eventId: item.eventId,
      userIds: users.map((user) => user.userId),
      seqs: users.map((user) => user.seq),
      event: item.event,
      payload: item.payload,
      fallback,
      publishedAt: item.publishedAt,
      ...(Object.keys(plainAtEmit).length > 0 ? { plainAtEmit } : {}),
    };
  });
  const [first, second] = checked;
  if (!first) throw new Error('toFallbackJob: no checks');
  return {
    name: second ? 'fallback-checks' : first.item.event,
    data: second ? { v: 4, checks } : { v: 3, ...(checks[0] as (typeof checks)[number]) },
    opts: {
      ...RETENTION,
      jobId: fallbackJobId(first.item.eventId, first.item.part.index),
      delay: settings.delayMs,
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
    },
  };
}
