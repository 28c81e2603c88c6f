import { HeraldError, HeraldErrorCode } from '@herald/contracts';

/**
 * Every Redis key and channel Herald uses, in one place so the layout can be read at a
 * glance. The prefix is a hash tag (`{herald}`); from its name Herald makes one more tag
 * per partition (`{herald:0}` … `{herald:15}`). A user's partition is a stable hash of the
 * user id (`partitionOf`), and every key of that user, and the partition's stream, carry
 * the partition's tag: one sequencing script touches a single slot, and on Redis Cluster
 * the partitions spread over the masters. Keys no user owns keep the prefix's own tag.
 * Ids follow the contracts' grammar (`ID_RULE`: printable ASCII without spaces, braces or
 * `*`), so no id can add a hash tag of its own.
 * The Socket.IO channels carry no tag: their prefix is the key prefix without braces
 * (`herald:socket.io`), so each room's sharded channel hashes by its own name and the rooms
 * spread over the cluster's slots.
 *
 * Ids may contain `:`, so a key built from two ids length-prefixes the first
 * (`{len}:{eventId}:{userId}`): `colA:b` + `c` and `colA` + `b:c` would otherwise both
 * read `colA:b:c`. A key of one id ends with it, and an event record's part is a number
 * (no `:`), so those need no prefix. `keys.test.ts` checks that distinct inputs never
 * share a key.
 *
 * `{p}` is the prefix (`{herald}`), `{u}` the tag of the user's partition (`{herald:7}`),
 * `{n}` the tag of partition n.
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `{u}:presence:{userId}` | zset | one member per connected socket (`nodeId|socketId|a` for a device that acks, `…|p` for one that does not), score = expiry (ms) |
 * | `{u}:user:{userId}` | hash | `seq`: the user's latest sequence number; `ack`: the highest seq any of its devices acked. No expiry |
 * | `{u}:inbox:{userId}` | list | the user's last `HERALD_INBOX_MAX` events (JSON `InboxEntry`, oldest first); expires `HERALD_INBOX_TTL_S` after the last append |
 * | `{u}:email:{userId}` | string | last `email` claim seen on connect, for fallback |
 * | `{u}:fallback-sent:{len}:{eventId}:{userId}` | string | marks a settled fallback (email sent: its time; `live`; `undeliverable`), so retries never act twice |
 * | `{n}:events` | stream | the events of partition n, one entry per publisher batch and partition, read by the dispatchers' consumer group |
 * | `{n}:events:dead` | stream | entries of partition n no dispatcher could deliver, with the reason |
 * | `{n}:event:{eventId}:{part}` | string | set when slice `part` of a producer-supplied event id was sequenced (in the slice's partition n): a republish of the slice is skipped. 24 h |
 * | `{e}:event-id:{eventId}` | string | what a producer-supplied event id stands for (`event.to.payload.fallback` short hashes), in the tag of the id's own partition `{e}`: a reuse for another event is refused. 24 h |
 * | `{p}:partitions` | string | `HERALD_PARTITIONS` of the deployment; every process checks it at start |
 * | `{p}:client-events` | stream | validated client events (`notification:mark_read`) for domain services |
 * | `{p}:client-events:dead` | stream | client events a consumer failed on too often |
 * | `{p}:stats:undeliverable` | counter | fallbacks that had no address |
 * | `p:socket.io#/#` | sharded pub/sub | the namespace's channel (`p` = the prefix without braces): broadcasts, several rooms at once, the adapter's own requests; every node subscribes |
 * | `p:socket.io#/#{room}#` | sharded pub/sub | one room's channel (`user:{userId}` and named rooms); only nodes holding a socket in the room subscribe |
 * | `p:socket.io#/#{uid}#` | sharded pub/sub | one node's replies channel (the adapter's `uid`), for its fetchSockets / serverSideEmit requests |
 * | `{p}:fallback:*` | BullMQ | the fallback queue (delayed checks) |
 */
export interface RedisKeys {
  prefix: string;
  /** How many partitions the user ids are spread over (`HERALD_PARTITIONS`). */
  partitions: number;
  /** The partition of a user id (or a room name, or an event id): a stable hash of it. */
  partitionOf: (id: string) => number;
  /** Every partition number, 0 … partitions − 1. */
  partitionNumbers: readonly number[];
  presence(userId: string): string;
  email(userId: string): string;
  clientEvents: string;
  clientEventsDead: string;
  /** `{len}:{eventId}:{userId}`, `len` the event id's length, so the pair reads back one way only; in the user's partition. */
  fallbackSent(eventId: string, userId: string): string;
  /** A glob (PSUBSCRIBE, SCAN) matching every `fallbackSent` key, whatever the ids' lengths and partitions. */
  fallbackSentPattern: string;
  undeliverable: string;
  /** The user's sequence counter and acked seq. */
  user(userId: string): string;
  /** The user's inbox: the events a reconnecting device can be replayed. */
  inbox(userId: string): string;
  /** The stream of partition `partition`: what the dispatchers deliver. */
  stream(partition: number): string;
  /** Where entries of `stream(partition)` that could not be delivered go, with their reason. */
  deadStream(partition: number): string;
  /** Set when slice `part` of a producer-supplied event id was sequenced, in that slice's partition. */
  eventRecord(partition: number, eventId: string, part: number): string;
  /** What a producer-supplied event id stands for, in the id's own partition. */
  eventIdClaim(eventId: string): string;
  /** `HERALD_PARTITIONS` as the first process of the deployment stored it. */
  partitionsRecord: string;
  /**
   * The `channelPrefix` of both the sharded adapter and `createShardedEmitter`: they must agree.
   * The key prefix without its braces, so the channels carry no common hash tag.
   */
  socketIoChannelPrefix: string;
}

/** Partitions when `HERALD_PARTITIONS` is not set. */
export const DEFAULT_PARTITIONS = 16;
/** The most partitions a deployment may have: one stream and one reader each per dispatcher. */
export const MAX_PARTITIONS = 1_024;

/**
 * FNV-1a (32 bits) of the id's UTF-8 bytes. Stable across processes, versions and
 * languages (a producer in another language can place users the same way), cheap, and
 * spreads short ids like `user-1` … `user-1000` evenly.
 */
export function hashId(id: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(id, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function createKeys(prefix: string, partitions: number = DEFAULT_PARTITIONS): RedisKeys {
  const name = /^\{([^{}\s]+)\}$/.exec(prefix)?.[1];
  if (name === undefined) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `The key prefix must be a hash tag such as {herald} (HERALD_REDIS_PREFIX); got ${JSON.stringify(prefix)}`,
    );
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `HERALD_PARTITIONS must be an integer from 1 to ${MAX_PARTITIONS}; got ${String(partitions)}`,
    );
  }
  const tags = Array.from({ length: partitions }, (_, n) => `{${name}:${n}}`);
  const partitionOf = (id: string) => hashId(id) % partitions;
  const tagOf = (id: string) => tags[partitionOf(id)] as string;
  const tag = (partition: number) => {
    const found = tags[partition];
    if (found === undefined) throw new RangeError(`partition ${partition} is not in 0…${partitions - 1}`);
    return found;
  };
  return {
    prefix,
    partitions,
    partitionOf,
    partitionNumbers: tags.map((_, n) => n),
    presence: (userId) => `${tagOf(userId)}:presence:${userId}`,
    email: (userId) => `${tagOf(userId)}:email:${userId}`,
    clientEvents: `${prefix}:client-events`,
    clientEventsDead: `${prefix}:client-events:dead`,
    fallbackSent: (eventId, userId) =>
      `${tagOf(userId)}:fallback-sent:${eventId.length}:${eventId}:${userId}`,
    fallbackSentPattern: `{${name}:*}:fallback-sent:*`,
    undeliverable: `${prefix}:stats:undeliverable`,
    user: (userId) => `${tagOf(userId)}:user:${userId}`,
    inbox: (userId) => `${tagOf(userId)}:inbox:${userId}`,
    stream: (partition) => `${tag(partition)}:events`,
    deadStream: (partition) => `${tag(partition)}:events:dead`,
    eventRecord: (partition, eventId, part) => `${tag(partition)}:event:${eventId}:${part}`,
    eventIdClaim: (eventId) => `${tagOf(eventId)}:event-id:${eventId}`,
    partitionsRecord: `${prefix}:partitions`,
    socketIoChannelPrefix: `${name}:socket.io`,
  };
}

/**
 * Groups items by the partition of their id, partitions in first-seen order and items in
 * their given order within each. On Redis Cluster every key of one pipeline, MULTI or script
 * must be in one slot (ioredis refuses a pipeline that spans masters), and a partition is one
 * slot: a call per group is what stays valid there.
 */
export function groupByPartition<T>(
  keys: Pick<RedisKeys, 'partitionOf'>,
  items: Iterable<T>,
  idOf: (item: T) => string,
): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const partition = keys.partitionOf(idOf(item));
    let group = groups.get(partition);
    if (!group) groups.set(partition, (group = []));
    group.push(item);
  }
  return groups;
}
