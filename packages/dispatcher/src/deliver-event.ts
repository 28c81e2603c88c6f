import { EventItem, describeIssues, toFieldIssues, userRoom, type DeliveryMeta } from '@herald/contracts';
import {
  RESERVED_EVENTS,
  createShardedEmitter,
  hasPlainDevice,
  parseEntrySeqs,
  readLivePresence,
  type Logger,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';
import type { CheckBatcher } from './check-batcher.js';
import type { CheckedItem, FallbackUser } from './fallback-jobs.js';

export interface DeliverEventDeps {
  /** Connection for the presence read and the PUBLISHes (auto-pipelined). */
  redis: RedisClient;
  keys: RedisKeys;
  /** Queues the job's ack checks in a shared delayed fallback job. */
  checks: CheckBatcher;
  logger: Logger;
}

/** What delivering one stream entry did (logged at debug). */
export interface DeliveryResult {
  /** Events (or `toUsers` slices) the entry carried. */
  events: number;
  /** Of those, skipped: republishes of a slice an earlier entry delivers, and repeats within the entry. */
  skipped: number;
  /** Online users, rooms or broadcasts emitted to. */
  emitted: number;
  /** Users given a fallback check: every user of an event with a fallback policy. */
  fallbacks: number;
  /** Events (or slices) of those users, whose checks went into a fallback job shared with other entries. */
  checked: number;
}

/** An entry that can never be delivered (not Herald's shape): it goes to the dead stream at once. */
export class PoisonEntryError extends Error {
  override name = 'PoisonEntryError';
}

/** The items of a stream entry, with their seqs and the reasons of those that are invalid. */
export interface ParsedEntry {
  items: EventItem[];
  /** Per valid item, its users' seqs, or null where it is a republish that an earlier entry delivers. */
  seqs: Array<number[] | null>;
  invalid: string[];
}

function checkItem(data: unknown, path: string): EventItem | string {
  const parsed = EventItem.safeParse(data);
  if (!parsed.success) return describeIssues(toFieldIssues(parsed.error, path));
  if (RESERVED_EVENTS.has(parsed.data.event)) {
    return `${path}.event: "${parsed.data.event}" is reserved by Socket.IO`;
  }
  return parsed.data;
}

/**
 * Validates a stream entry read back from Redis (its fields: `events`, the items' JSON,
 * and `seqs`, what the publisher's script assigned): the items are checked one by one.
 * An entry whose envelope is wrong is poison: reading it again cannot fix it, so it
 * throws a `PoisonEntryError` with the reason, and the entry goes to the dead stream at
 * once instead of being retried. Invalid items of a valid entry are returned as reasons.
 */
export function parseEntry(fields: readonly string[]): ParsedEntry {
  const field = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const eventsJson = field('events');
  const seqsText = field('seqs');
  if (eventsJson === undefined || seqsText === undefined) {
    throw new PoisonEntryError('invalid_entry: expected the fields events and seqs');
  }
  let events: unknown;
  try {
    events = JSON.parse(eventsJson);
  } catch {
    throw new PoisonEntryError('invalid_entry: events is not JSON');
  }
  const allSeqs = parseEntrySeqs(seqsText);
  if (!Array.isArray(events) || events.length === 0 || allSeqs.length !== events.length) {
    const got = Array.isArray(events) ? `${events.length} events and ${allSeqs.length} seqs` : typeof events;
    throw new PoisonEntryError(
      `invalid_entry: expected a non-empty events array with one seqs part each; got ${got}`,
    );
  }
  const items: EventItem[] = [];
  const seqs: Array<number[] | null> = [];
  const invalid: string[] = [];
  events.forEach((event: unknown, i) => {
    const checked = checkItem(event, `events.${i}`);
    const itemSeqs = allSeqs[i] as number[] | null;
    if (typeof checked === 'string') invalid.push(checked);
    else if (
      itemSeqs !== null &&
      (checked.target.kind === 'users' ? checked.target.userIds.length : 0) !== itemSeqs.length
    ) {
      invalid.push(`seqs.${i}: expected one seq per user of events.${i}`);
    } else {
      items.push(checked);
      seqs.push(itemSeqs);
    }
  });
  return { items, seqs, invalid };
}

/**
 * Delivers one stream entry: a batch of events of one partition the publisher already
 * sequenced (each user's seq and inbox entry were written by the script that appended the
 * entry, which carries the seqs). Round trips are per entry, not per event:
 *
 * 1. one script call reads the presence of all users of the entry (one partition, one slot);
 * 2. one script call makes one PUBLISH per online user (each carries that user's seq)
 *    and one per room or broadcast; at the same time the ack checks of its events with
 *    a fallback policy go to the check batcher, which puts those of the entries
 *    delivered within a few milliseconds into one delayed fallback job.
 *
 * An item whose seqs are `-` is a republish of a slice an earlier entry delivers: skipped.
 * A second delivery of this entry (after a dispatcher died before acknowledging it) emits
 * again with the same seqs; devices drop what they already have by seq, and the
 * fallback-sent marks keep a check queued twice to one email.
 *
 * Fallback rule, decided by the check after `ackTimeoutMs`: nothing if some device acked
 * the event's seq; nothing either if a plain device (one that does not ack) that was
 * connected now is still connected then, as it counts as having received the event (as
 * before acks existed). The check carries those plain devices and the expiry of their
 * presence entries now: an entry that did not move on by then was a dead node's left-over
 * (a node SIGKILLed moments ago still looks online until its entries expire), and must not
 * count as a delivery.
 *
 * Invalid items of an entry are not retried: the valid ones are delivered, and the
 * reasons are returned, for the caller to put the entry in the dead stream with them.
 */
export async function deliverEntry(
  parsed: ParsedEntry,
  deps: DeliverEventDeps,
  /** The entry's stream id, for logs. */
  entryId: string,
  /** Called once the entry's SPUBLISHes are in Redis, before waiting for its checks. */
  onEmitted?: () => void,
): Promise<DeliveryResult> {
  const unique: Array<{ item: EventItem; seqs: number[] }> = [];
  parsed.items.forEach((item, i) => {
    const seqs = parsed.seqs[i];
    if (seqs) unique.push({ item, seqs });
  });
  const userIds = new Set<string>();
  for (const { item } of unique) {
    if (item.target.kind === 'users') for (const id of item.target.userIds) userIds.add(id);
  }
  const devices = await readLivePresence(deps.redis, deps.keys, [...userIds]);

  const emitter = createShardedEmitter(deps.redis, { channelPrefix: deps.keys.socketIoChannelPrefix });
  const checked: CheckedItem[] = [];
  let emitted = 0;
  let fallbacks = 0;
  unique.forEach(({ item, seqs }) => {
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
  // The entry must not be acknowledged before Redis took every SPUBLISH and holds its checks;
  // once the SPUBLISHes are in, only the checks' linger is left, which needs no slot.
  const checksAdded = deps.checks.add(checked);
  // Awaited below; should the SPUBLISHes fail first, its own failure must not go unhandled.
  checksAdded.catch(() => undefined);
  await emitter.send();
  onEmitted?.();
  await checksAdded;

  const result: DeliveryResult = {
    events: parsed.items.length + parsed.invalid.length,
    skipped: parsed.items.length - unique.length,
    emitted,
    fallbacks,
    checked: checked.length,
  };
  deps.logger.debug({ entryId, ...result }, 'events delivered');
  return result;
}
