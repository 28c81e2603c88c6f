import { UnrecoverableError } from 'bullmq';
import { EventJobItem, describeIssues, toFieldIssues, userRoom, type DeliveryMeta } from '@herald/contracts';
import {
  RESERVED_EVENTS,
  createShardedEmitter,
  hasPlainDevice,
  readDeliveryState,
  type Logger,
  type Redis,
  type RedisKeys,
} from '@herald/core';
import type { CheckBatcher } from './check-batcher.js';
import type { CheckedItem, FallbackUser } from './fallback-jobs.js';

export interface DeliverEventDeps {
  /** Connection for the records and presence read and the PUBLISHes (auto-pipelined). */
  redis: Redis;
  keys: RedisKeys;
  /** Queues the job's ack checks in a shared delayed fallback job. */
  checks: CheckBatcher;
  logger: Logger;
}

/** What one events job did, kept as the job's return value for inspection. */
export interface DeliveryResult {
  /** Events (or `toUsers` slices) the job carried. */
  events: number;
  /** Of those, skipped: their (eventId, part) is delivered by another job (a repeated publish). */
  skipped: number;
  /** Online users, rooms or broadcasts emitted to. */
  emitted: number;
  /** Users given a fallback check: every user of an event with a fallback policy. */
  fallbacks: number;
  /** Events (or slices) of those users, whose checks went into a fallback job shared with other events jobs. */
  checked: number;
}

/** The items of an events job, with the reasons of those that are invalid. */
export interface ParsedEventJob {
  items: EventJobItem[];
  /** Each valid item's place in the job's data (its seqs are recorded by that place). */
  indices: number[];
  invalid: string[];
}

function checkItem(data: unknown, path: string): EventJobItem | string {
  const parsed = EventJobItem.safeParse(data);
  if (!parsed.success) return describeIssues(toFieldIssues(parsed.error, path));
  if (RESERVED_EVENTS.has(parsed.data.event)) {
    return `${path}.event: "${parsed.data.event}" is reserved by Socket.IO`;
  }
  return parsed.data;
}

/**
 * Validates the data of one events job read back from Redis: a batch whose items are
 * checked one by one. A job whose envelope is wrong is a poison job: retrying cannot fix
 * it, so it throws an `UnrecoverableError` with the reason and goes to the failed set at
 * once instead of holding up the queue. Invalid items of a valid batch are returned as reasons.
 */
export function parseEventJob(data: unknown): ParsedEventJob {
  const events =
    typeof data === 'object' && data !== null ? (data as { events?: unknown }).events : undefined;
  if (!Array.isArray(events) || events.length === 0) {
    const got = Array.isArray(events) ? 'an empty array' : events === undefined ? 'none' : typeof events;
    throw new UnrecoverableError(`invalid_job: data: expected { events: [ … ] }; got events ${got}`);
  }
  const items: EventJobItem[] = [];
  const indices: number[] = [];
  const invalid: string[] = [];
  events.forEach((event: unknown, i) => {
    const checked = checkItem(event, `data.events.${i}`);
    if (typeof checked === 'string') invalid.push(checked);
    else {
      items.push(checked);
      indices.push(i);
    }
  });
  return { items, indices, invalid };
}

/**
 * Delivers one events job: a batch of events the publisher already sequenced (each
 * user's seq and inbox entry were written in the MULTI that queued the job, with the
 * seqs of all its users in one record of the job). Round trips are per job, not per event:
 *
 * 1. one script call reads the job's seqs and the presence of all users of the job;
 * 2. one script call makes one PUBLISH per online user (each carries that user's seq)
 *    and one per room or broadcast; at the same time the ack checks of its events with
 *    a fallback policy go to the check batcher, which puts those of the events jobs
 *    delivered within a few milliseconds into one delayed fallback job.
 *
 * An item whose (eventId, part) was claimed by another job was published again under the
 * same event id (a retry, or an id reused for another event, which the publisher refused):
 * this job skips it. A retry of this job (after a crash, say) emits again
 * with the same seqs; devices drop what they already have by seq, and the fallback-sent
 * marks keep a check queued twice to one email.
 *
 * Fallback rule, decided by the check after `ackTimeoutMs`: nothing if some device acked
 * the event's seq; nothing either if a plain device (one that does not ack) that was
 * connected now is still connected then, as it counts as having received the event (as
 * before acks existed). The check carries those plain devices and the expiry of their
 * presence entries now: an entry that did not move on by then was a dead node's left-over
 * (a node SIGKILLed moments ago still looks online until its entries expire), and must not
 * count as a delivery.
 *
 * Invalid items of a batch are not retried: the valid ones are delivered, then the job
 * fails for good with the reasons (it stays in the failed set to be looked at).
 */
export async function deliverEvent(
  data: unknown,
  deps: DeliverEventDeps,
  /** The job's id: the one the publisher recorded for the pairs it carries. */
  jobId: string,
): Promise<DeliveryResult> {
  const { items: parsed, indices, invalid } = parseEventJob(data);
  // The same (eventId, part) twice in one job (one event id published twice in one tick) is delivered once.
  const seen = new Set<string>();
  const unique: Array<{ item: EventJobItem; index: number }> = [];
  parsed.forEach((item, i) => {
    const key = `${item.part.index}|${item.eventId}`;
    if (seen.has(key)) return;
    seen.add(key);
    unique.push({ item, index: indices[i] as number });
  });
  const userIds = new Set<string>();
  for (const { item } of unique) {
    if (item.target.kind === 'users') for (const id of item.target.userIds) userIds.add(id);
  }
  const { jobSeqs, devices } = await readDeliveryState(deps.redis, deps.keys, jobId, [...userIds]);
  // Per unique item: its users' seqs, null where another job delivers it, undefined where nothing is recorded.
  const seqsOf: Array<number[] | null | undefined> = unique.map(({ index }) => jobSeqs?.[index]);

  const emitter = createShardedEmitter(deps.redis, { channelPrefix: deps.keys.socketIoChannelPrefix });
  const checked: CheckedItem[] = [];
  let delivered = 0;
  let emitted = 0;
  let fallbacks = 0;
  let unrecorded = 0;
  unique.forEach(({ item }, i) => {
    const seqs = seqsOf[i];
    if (seqs === undefined) {
      unrecorded += 1;
      return;
    }
    if (seqs === null) return;
    delivered += 1;
    const { target } = item;
    switch (target.kind) {
      case 'users': {
        const check: FallbackUser[] = [];
        target.userIds.forEach((userId, j) => {
          const seq = seqs[j] as number;
          const found = devices.get(userId);
          if (found) {
            const meta: DeliveryMeta = { id: item.eventId, seq, ts: item.publishedAt };
            emitter.to(userRoom(userId)).emit(item.event, item.payload, meta);
            emitted += 1;
          }
          if (item.fallback)
            check.push({ userId, seq, ...(hasPlainDevice(found) ? { plain: found?.plain } : {}) });
        });
        if (item.fallback && check.length > 0) {
          checked.push({ item, fallback: item.fallback, users: check });
          fallbacks += check.length;
        }
        break;
      }
      case 'room':
        emitter.to(target.room).emit(item.event, item.payload, { id: item.eventId, ts: item.publishedAt });
        emitted += 1;
        break;
      case 'broadcast':
        emitter.emit(item.event, item.payload, { id: item.eventId, ts: item.publishedAt });
        emitted += 1;
        break;
    }
  });
  if (unrecorded > 0) {
    // Only a job older than the records' 24 h, or one queued without the publisher's
    // sequencing (another tool adding to the queue), has none: nothing to deliver it with.
    deps.logger.warn({ jobId, unrecorded }, 'events without a sequencing record were skipped');
  }
  // The job must not complete before Redis took every SPUBLISH and holds its checks.
  await Promise.all([emitter.send(), deps.checks.add(checked)]);

  const result: DeliveryResult = {
    events: parsed.length,
    skipped: parsed.length - delivered,
    emitted,
    fallbacks,
    checked: checked.length,
  };
  deps.logger.debug({ jobId, ...result }, 'events delivered');
  if (invalid.length > 0) {
    throw new UnrecoverableError(`invalid_job: ${invalid.join('; ')}`);
  }
  return result;
}
