import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { EventItem, FallbackJobData, FallbackPolicy } from '@herald/contracts';

/** Escapes the characters a fallback job id may not carry raw: ':' (BullMQ) and our own '%' and '|'. */
function escapeIdPart(value: string): string {
  return value.replace(/[%:|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * The id of the one fallback job of (event, slice of a split `toUsers`):
 * `fbp-{eventId}|{part}`, the event id escaped. BullMQ ignores an add whose id already
 * exists, so a stream entry delivered again schedules no second fallback job for the same slice
 * while the first is queued or among the completed jobs kept (after that, a second check
 * finds its users settled). The event id is escaped and followed by a character it
 * cannot contain raw, so two different pairs never share an id. The `fbp-` prefix keeps these ids apart
 * from the `fbg-` ids of jobs holding several pairs (`batchJobId`).
 */
export function fallbackJobId(eventId: string, part: number): string {
  return `fbp-${escapeIdPart(eventId)}|${part}`;
}

/**
 * The id of a fallback job holding the checks of several (event, part) pairs:
 * `fbg-` and a digest of the pairs, in order. Only a job of exactly the same pairs
 * shares it, so BullMQ ignoring an add under an existing id never drops a check.
 */
export function batchJobId(checked: readonly CheckedItem[]): string {
  const hash = createHash('sha256');
  for (const { item } of checked) hash.update(`${item.eventId}\u0000${item.part.index}\u0000`);
  return `fbg-${hash.digest('base64url').slice(0, 32)}`;
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
 * Completed fallback jobs are kept briefly, for a look at what just ran: the last 1,000, for
 * an hour at most. A completed job keeps its data, the payloads of all its checks, so
 * keeping a day of them (up to 100,000) grew Redis with the event rate. What a
 * completed job did is settled elsewhere: acked users by their ack, which never goes down,
 * and every other user by a `fallback-sent` mark kept as long as a check of the pair can
 * still run, so a check added again once the job is gone sends nothing twice. Failed jobs
 * are kept (BullMQ's default) so an undeliverable fallback stays visible in the failed set
 * and is never dropped silently.
 */
const RETENTION = { removeOnComplete: { age: 3_600, count: 1_000 } } as const satisfies JobsOptions;

/** One event (or slice) of a stream entry whose users get the ack check. */
export interface CheckedItem {
  item: EventItem;
  fallback: FallbackPolicy;
  users: readonly FallbackUser[];
}

/**
 * One delayed fallback job for the ack checks of a batch of events (those of one or more
 * stream entries, see `createCheckBatcher`): one `checks` entry per (event, part).
 * A lone check's id is its (eventId, part)'s `fallbackJobId`, which only the entry that
 * sequenced that pair delivers, so a second delivery of it adds nothing twice while the job
 * is kept; a batch's id is `batchJobId` of its pairs.
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
    data: { checks },
    opts: {
      ...RETENTION,
      jobId: second ? batchJobId(checked) : fallbackJobId(first.item.eventId, first.item.part.index),
      delay: settings.delayMs,
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
    },
  };
}
