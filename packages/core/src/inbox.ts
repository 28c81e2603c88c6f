import { heraldScript as command } from './herald-scripts.js';
import type { RedisClient } from './redis-client.js';
import { groupByPartition, type RedisKeys } from './keys.js';
import { countDevices, type UserDevices } from './presence.js';

/**
 * Each user's sequence, inbox and acks. Every user-targeted event gets the user's next
 * `seq` (1, 2, 3, … with no holes) and is appended to the user's inbox, a Redis list
 * (oldest first) capped at `inboxMax` entries and expiring `inboxTtlS` after the last
 * append. The counter and the acked seq live in the user's hash (`{p}:user:{id}`), which
 * does not expire: a counter that started over would make devices drop new events as
 * already seen. Because entries are appended in seq order and trimmed from the head,
 * the list's last entry always has seq = the counter, and entry `i` of a list of `n`
 * has seq `counter - n + 1 + i`.
 */

/** How long a producer-supplied event id is remembered: publishing it again within this window delivers once. */
export const EVENT_RECORD_TTL_S = 24 * 60 * 60;

/** One event (or slice) to sequence: the users it goes to and what their inbox entry holds. */
export interface SequenceItem {
  eventId: string;
  part: number;
  /** Empty for rooms and broadcast: they get no seq, only a place in the stream. */
  userIds: readonly string[];
  event: string;
  payload: unknown;
  /** `payload` as JSON when the caller has it already (the publisher measured it); saves serializing it again. */
  payloadJson?: string | undefined;
  publishedAt: number;
  /**
   * Whether the producer supplied the event id: only then does the slice get a record
   * (`eventRecord`) that makes a republish of it a no-op. A generated id cannot repeat.
   */
  idSupplied: boolean;
}

export interface InboxSettings {
  /** Entries kept per user. */
  inboxMax: number;
  /** Seconds an inbox lives after its last append. */
  inboxTtlS: number;
}

/**
 * An inbox entry without its opening `{"seq":N,` (the script prepends that per user):
 * the JSON of `{ id, event, ts, payload }` after its opening brace. The payload's JSON is
 * spliced in when the caller has it, which is the same text `JSON.stringify` would make.
 */
export function entryTail(item: SequenceItem): string {
  if (item.payloadJson === undefined) {
    return JSON.stringify({
      id: item.eventId,
      event: item.event,
      ts: item.publishedAt,
      payload: item.payload,
    }).slice(1);
  }
  return `"id":${JSON.stringify(item.eventId)},"event":${JSON.stringify(item.event)},"ts":${JSON.stringify(item.publishedAt)},"payload":${item.payloadJson}}`;
}

/** What `appendEntry` did: the entry's stream id, and per item whether it was sequenced. */
export interface AppendResult {
  /** Null when every item was a republish: nothing was appended. */
  streamId: string | null;
  /** Per item, in order: false for a slice of a supplied id that was sequenced before (skipped). */
  sequenced: boolean[];
}

/**
 * Sequences the items of one stream entry, all of partition `partition` (every user of
 * every item in it), and appends the entry to the partition's stream, in one script call:
 * an event is sequenced, in its users' inboxes and in the stream, or none of these. The
 * entry carries `eventsJson` (the items as the dispatcher reads them) and the seqs the
 * script gave each item's users, so the dispatcher needs no other read to learn them.
 */
export async function appendEntry(
  redis: RedisClient,
  keys: RedisKeys,
  partition: number,
  items: readonly SequenceItem[],
  eventsJson: string,
  settings: InboxSettings,
): Promise<AppendResult> {
  const redisKeys: string[] = [keys.stream(partition)];
  const args: Array<string | number> = [
    settings.inboxMax,
    settings.inboxTtlS,
    EVENT_RECORD_TTL_S,
    eventsJson,
  ];
  for (const item of items) {
    if (item.idSupplied) redisKeys.push(keys.eventRecord(partition, item.eventId, item.part));
    for (const userId of item.userIds) {
      if (keys.partitionOf(userId) !== partition) {
        throw new Error(`user ${userId} is in partition ${keys.partitionOf(userId)}, not ${partition}`);
      }
      redisKeys.push(keys.user(userId), keys.inbox(userId));
    }
    args.push(item.idSupplied ? 1 : 0, item.userIds.length, entryTail(item));
  }
  const reply = (await command(redis, 'heraldSequenceAndAppend')(
    redisKeys.length,
    ...redisKeys,
    ...args,
  )) as [string, ...number[]];
  const [streamId, ...results] = reply;
  return { streamId: streamId === '' ? null : streamId, sequenced: results.map((r) => r === 1) };
}

/** The parts of an event's fingerprint, in order, as `claimEventId` names those that differ. */
const FINGERPRINT_PARTS = ['event', 'to', 'payload', 'fallback'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];

/**
 * What claiming a producer-supplied event id found: `new`, `same` (claimed before with the
 * same fingerprint: a retry, whose slices are deduped by their records), or `conflict`
 * (claimed for another event; `differ` names which parts differ).
 */
export type ClaimResult =
  { kind: 'new' } | { kind: 'same' } | { kind: 'conflict'; differ: FingerprintPart[] };

/**
 * Claims a producer-supplied event id for the event its `fingerprint` describes
 * (`.`-separated hashes of event, target, payload and fallback), for 24 h. Made before
 * any slice of the event is sequenced, in the id's own slot: the slices of a `toUsers`
 * live in several partitions, so this is where a reuse of the id is caught for all of them.
 */
export async function claimEventId(
  redis: RedisClient,
  keys: RedisKeys,
  eventId: string,
  fingerprint: string,
): Promise<ClaimResult> {
  const reply = await command(redis, 'heraldClaimEventId')(
    1,
    keys.eventIdClaim(eventId),
    fingerprint,
    EVENT_RECORD_TTL_S,
  );
  if (reply === 1) return { kind: 'new' };
  if (reply === 0) return { kind: 'same' };
  const mine = fingerprint.split('.');
  const theirs = String(reply).split('.');
  return { kind: 'conflict', differ: FINGERPRINT_PARTS.filter((_, i) => mine[i] !== theirs[i]) };
}

/**
 * Parses an entry's `seqs` field: per item, its users' seqs, or null where the item was a
 * republish (its slice was sequenced by an earlier entry, which delivers it).
 */
export function parseEntrySeqs(text: string): Array<number[] | null> {
  return text
    .split(';')
    .map((part) => (part === '-' ? null : part === '' ? [] : part.split(',').map(Number)));
}

/**
 * Reads the live presence of the users of one stream entry (all in its partition) in one
 * script call: per user that has any, its devices.
 */
export async function readLivePresence(
  redis: RedisClient,
  keys: RedisKeys,
  userIds: readonly string[],
  now = Date.now(),
): Promise<Map<string, UserDevices>> {
  const devices = new Map<string, UserDevices>();
  if (userIds.length === 0) return devices;
  const redisKeys = userIds.map((userId) => keys.presence(userId));
  const reply = (await command(redis, 'heraldLivePresence')(
    redisKeys.length,
    ...redisKeys,
    now,
  )) as string[][];
  userIds.forEach((userId, i) => {
    const entries = reply[i];
    if (entries && entries.length > 0) devices.set(userId, countDevices(entries));
  });
  return devices;
}

/** What a device with a given cursor missed. */
export interface Replay {
  /** The user's latest seq. */
  latest: number;
  /** Seqs after the cursor the inbox no longer holds: replay cannot bring them back. */
  gap: { fromSeq: number; toSeq: number } | null;
  /** Raw inbox entries (JSON of `InboxEntry`) after the cursor, oldest first. */
  entries: string[];
}

/** Reads, atomically, what a device that has everything up to `lastSeq` is missing. */
export async function readReplay(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  lastSeq: number,
): Promise<Replay> {
  const reply = (await command(redis, 'heraldReplay')(2, keys.user(userId), keys.inbox(userId), lastSeq)) as [
    number,
    number,
    ...string[],
  ];
  const [latest, first, ...entries] = reply;
  const gap = lastSeq + 1 < first && lastSeq < latest ? { fromSeq: lastSeq + 1, toSeq: first - 1 } : null;
  return { latest, gap, entries };
}

/** The user's latest seq (0 before any event). */
export async function readLatestSeq(redis: RedisClient, keys: RedisKeys, userId: string): Promise<number> {
  return Number((await redis.hget(keys.user(userId), 'seq')) ?? 0);
}

/** Records a device's cumulative ack; returns the user's acked seq afterwards. */
export async function recordAck(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  seq: number,
): Promise<number> {
  const [acked] = await recordAcks(redis, keys, new Map([[userId, seq]]));
  return acked ?? 0;
}

/**
 * Records the acks of many users, one script call per partition (a call's keys must share
 * a slot on Redis Cluster); returns their acked seqs, in the order of `acks`.
 */
export async function recordAcks(
  redis: RedisClient,
  keys: RedisKeys,
  acks: ReadonlyMap<string, number>,
): Promise<number[]> {
  if (acks.size === 0) return [];
  const byPartition = groupByPartition(keys, acks, ([userId]) => userId);
  const acked = new Map<string, number>();
  await Promise.all(
    [...byPartition.values()].map(async (group) => {
      const userKeys = group.map(([userId]) => keys.user(userId));
      const reply = (await command(redis, 'heraldAck')(
        userKeys.length,
        ...userKeys,
        ...group.map(([, seq]) => seq),
      )) as number[];
      group.forEach(([userId], i) => acked.set(userId, Number(reply[i])));
    }),
  );
  return [...acks.keys()].map((userId) => acked.get(userId) ?? 0);
}

/** The acked seq of each user (0 when none of its devices acked anything). */
export async function readAckedSeqs(
  redis: RedisClient,
  keys: RedisKeys,
  userIds: readonly string[],
): Promise<Map<string, number>> {
  const acked = await Promise.all(userIds.map((userId) => redis.hget(keys.user(userId), 'ack')));
  return new Map(userIds.map((userId, i) => [userId, Number(acked[i] ?? 0)]));
}
