import {
  EVENTS_PER_ENTRY,
  USERS_PER_SLICE,
  chunk,
  type EventItem,
  type JobTarget,
  type PreparedEvent,
} from '@herald/contracts';
import { groupByPartition, type RedisKeys } from '@herald/core';
import { eventFingerprint } from './event-fingerprint.js';

/** An item with what it weighs in an entry: its partition, its user ids and its payload bytes. */
export interface SizedItem {
  item: EventItem;
  /** The partition of every user of the item (or of the room; broadcast goes to partition 0). */
  partition: number;
  users: number;
  bytes: number;
  /** The payload as JSON, measured while validating. */
  payloadJson?: string;
  /**
   * The event's fingerprint (`eventFingerprint`), the same for every part of a `toUsers`;
   * empty for an id Herald generated, which is never claimed (hashing the payload per event
   * would cost the publisher for nothing).
   */
  fingerprint: string;
  /** Whether the producer chose the event id (only such ids are claimed and recorded). */
  idSupplied: boolean;
}

/** One stream entry to append: items of one partition, with where each came from in the batch. */
export interface EventEntry {
  partition: number;
  items: SizedItem[];
  /** Each item's index in the list given to `packEventEntries`. */
  sources: number[];
}

/** How much one entry may carry; an entry is closed when the next item would exceed a bound. */
export interface EntryLimits {
  /** Items per entry. @default 200 */
  maxEvents: number;
  /** Sum of payload bytes (JSON) per entry. @default 1_048_576 */
  maxBytes: number;
}

/**
 * Turns a prepared event into the items that carry it. A `toUsers` is split by partition
 * (partitions in ascending order, users in their given order within each), then into
 * slices of at most `USERS_PER_SLICE` users, so each item's users share one partition and
 * its sequencing touches one slot. A room goes to its name's partition, a broadcast to
 * partition 0. The split is deterministic: a republish of the same event id lines up part
 * for part with the slice records of the first publish.
 */
export function toEventItems(event: PreparedEvent, keys: Pick<RedisKeys, 'partitionOf'>): SizedItem[] {
  const slices: Array<{ target: JobTarget; partition: number; users: number }> = [];
  if (event.target.kind === 'users') {
    const byPartition = groupByPartition(keys, event.target.userIds, (userId) => userId);
    for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
      for (const userIds of chunk(byPartition.get(partition) as string[], USERS_PER_SLICE)) {
        slices.push({ target: { kind: 'users', userIds }, partition, users: userIds.length });
      }
    }
  } else {
    const partition = event.target.kind === 'room' ? keys.partitionOf(event.target.room) : 0;
    slices.push({ target: event.target, partition, users: 0 });
  }
  const bytes = event.payloadBytes ?? 0;
  const fingerprint = event.idSupplied ? eventFingerprint(event) : '';
  return slices.map(({ target, partition, users }, index) => ({
    item: {
      eventId: event.eventId,
      event: event.event,
      payload: event.payload,
      target,
      fallback: event.fallback,
      publishedAt: event.publishedAt,
      part: { index, count: slices.length },
    },
    partition,
    users,
    bytes,
    fingerprint,
    idSupplied: event.idSupplied,
    ...(event.payloadJson === undefined ? {} : { payloadJson: event.payloadJson }),
  }));
}

/**
 * Packs items into as few entries as the limits allow: one partition per entry, items of
 * a partition in their given order, at most `maxEvents` items, `USERS_PER_SLICE` user ids
 * and `maxBytes` payload bytes per entry (a single item larger than a bound still gets an
 * entry of its own). Entries come out by partition of their first item's first appearance.
 */
export function packEventEntries(items: readonly SizedItem[], limits: EntryLimits): EventEntry[] {
  const maxEvents = Math.min(limits.maxEvents, EVENTS_PER_ENTRY);
  const open = new Map<number, { entry: EventEntry; users: number; bytes: number }>();
  const entries: EventEntry[] = [];
  items.forEach((sized, source) => {
    let current = open.get(sized.partition);
    if (
      current &&
      (current.entry.items.length >= maxEvents ||
        current.users + sized.users > USERS_PER_SLICE ||
        current.bytes + sized.bytes > limits.maxBytes)
    ) {
      current = undefined;
    }
    if (!current) {
      current = { entry: { partition: sized.partition, items: [], sources: [] }, users: 0, bytes: 0 };
      open.set(sized.partition, current);
      entries.push(current.entry);
    }
    current.entry.items.push(sized);
    current.entry.sources.push(source);
    current.users += sized.users;
    current.bytes += sized.bytes;
  });
  return entries;
}

/**
 * The entry's `events` field: the JSON of its items as `EventItem`s, with each payload's
 * JSON spliced in where the publisher measured it (the same text `JSON.stringify` makes).
 */
export function entryEventsJson(items: readonly SizedItem[]): string {
  return `[${items
    .map(({ item, payloadJson }) => {
      if (payloadJson === undefined) return JSON.stringify(item);
      const { payload: _payload, ...rest } = item;
      return `${JSON.stringify(rest).slice(0, -1)},"payload":${payloadJson}}`;
    })
    .join(',')}]`;
}
