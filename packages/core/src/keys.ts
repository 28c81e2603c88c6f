/**
 * Every Redis key and channel Herald uses, in one place so the layout can be read
 * at a glance. `prefix` carries a hash tag (`{herald}`), so on Redis Cluster all keys
 * share one slot; BullMQ queues use the same prefix. The Socket.IO channels do not: their
 * prefix is the key prefix without braces (`herald:socket.io`), so each room's sharded
 * channel hashes by its own name and the rooms spread over the cluster's slots. Ids follow the contracts'
 * grammar (`ID_RULE`: printable ASCII without spaces, braces or `*`), so no id can add
 * a hash tag of its own.
 *
 * Ids may contain `:`, so a key built from two ids length-prefixes the first
 * (`{len}:{eventId}:{userId}`): `colA:b` + `c` and `colA` + `b:c` would otherwise both
 * read `colA:b:c`. A key of one id ends with it, and an event record's part is a number
 * (no `:`), so those need no prefix. `keys.test.ts` checks that distinct inputs never
 * share a key.
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `{p}:presence:{userId}` | zset | one member per connected socket (`nodeId|socketId|a` for a device that acks, `…|p` for one that does not), score = expiry (ms) |
 * | `{p}:user:{userId}` | hash | `seq`: the user's latest sequence number; `ack`: the highest seq any of its devices acked. No expiry |
 * | `{p}:inbox:{userId}` | list | the user's last `HERALD_INBOX_MAX` events (JSON `InboxEntry`, oldest first); expires `HERALD_INBOX_TTL_S` after the last append |
 * | `{p}:email:{userId}` | string | last `email` claim seen on connect, for fallback |
 * | `{p}:client-events` | stream | validated client events (`notification:mark_read`) for domain services |
 * | `{p}:client-events:dead` | stream | client events a consumer failed on too often |
 * | `{p}:fallback-sent:{len}:{eventId}:{userId}` | string | marks a settled fallback (email sent: its time; `live`; `undeliverable`), so retries never act twice |
 * | `{p}:stats:undeliverable` | counter | fallbacks that had no address |
 * | `{p}:event:{eventId}:{part}` | string | `{jobId}|{index}|{fingerprint}`: the events job that delivers (eventId, part), the pair's place in it, and `event.to.payload` short hashes of what the id stands for. 24 h, so a republish is skipped and a reuse for another event refused |
 * | `{p}:job-seqs:{jobId}` | string | the seqs of an events job's users: per item, in order, `;`-separated, its users' seqs `,`-separated, or `-` for a pair another job delivers. 24 h |
 * | `p:socket.io#/#` | sharded pub/sub | the namespace's channel (`p` = the prefix without braces): broadcasts, several rooms at once, the adapter's own requests; every node subscribes |
 * | `p:socket.io#/#{room}#` | sharded pub/sub | one room's channel (`user:{userId}` and named rooms); only nodes holding a socket in the room subscribe |
 * | `p:socket.io#/#{uid}#` | sharded pub/sub | one node's replies channel (the adapter's `uid`), for its fetchSockets / serverSideEmit requests |
 * | `{p}:events:*`, `{p}:fallback:*` | BullMQ | the two queues |
 */
export interface RedisKeys {
  prefix: string;
  presence(userId: string): string;
  email(userId: string): string;
  clientEvents: string;
  clientEventsDead: string;
  /** `{len}:{eventId}:{userId}`, `len` the event id's length, so the pair reads back one way only. */
  fallbackSent(eventId: string, userId: string): string;
  /** A glob (PSUBSCRIBE, SCAN) matching every `fallbackSent` key, whatever the ids' lengths. */
  fallbackSentPattern: string;
  undeliverable: string;
  /** The user's sequence counter and acked seq. */
  user(userId: string): string;
  /** The user's inbox: the events a reconnecting device can be replayed. */
  inbox(userId: string): string;
  /** Written when an event (or `toUsers` slice) is sequenced: publishing its id again within 24 h delivers once. */
  eventRecord(eventId: string, part: number): string;
  /** The seqs the publisher gave the users of an events job's items, read by the dispatcher with one GET. */
  jobSeqs(jobId: string): string;
  /**
   * The `channelPrefix` of both the sharded adapter and `createShardedEmitter`: they must agree.
   * The key prefix without its braces, so the channels carry no common hash tag.
   */
  socketIoChannelPrefix: string;
}

export function createKeys(prefix: string): RedisKeys {
  return {
    prefix,
    presence: (userId) => `${prefix}:presence:${userId}`,
    email: (userId) => `${prefix}:email:${userId}`,
    clientEvents: `${prefix}:client-events`,
    clientEventsDead: `${prefix}:client-events:dead`,
    fallbackSent: (eventId, userId) => `${prefix}:fallback-sent:${eventId.length}:${eventId}:${userId}`,
    fallbackSentPattern: `${prefix}:fallback-sent:*`,
    undeliverable: `${prefix}:stats:undeliverable`,
    user: (userId) => `${prefix}:user:${userId}`,
    inbox: (userId) => `${prefix}:inbox:${userId}`,
    eventRecord: (eventId, part) => `${prefix}:event:${eventId}:${part}`,
    jobSeqs: (jobId) => `${prefix}:job-seqs:${jobId}`,
    socketIoChannelPrefix: `${prefix.replace(/[{}]/g, '')}:socket.io`,
  };
}
