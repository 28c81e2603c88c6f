/**
 * Every Redis key and channel Herald uses, in one place so the layout can be read
 * at a glance. `prefix` carries a hash tag (`{herald}`), so on Redis Cluster all of
 * them share one slot; BullMQ queues use the same prefix.
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `{p}:presence:{userId}` | zset | one member per connected socket (`nodeId|socketId|a` for a device that acks, `…|p` for one that does not), score = expiry (ms) |
 * | `{p}:user:{userId}` | hash | `seq`: the user's latest sequence number; `ack`: the highest seq any of its devices acked. No expiry |
 * | `{p}:inbox:{userId}` | list | the user's last `HERALD_INBOX_MAX` events (JSON `InboxEntry`, oldest first); expires `HERALD_INBOX_TTL_S` after the last append |
 * | `{p}:email:{userId}` | string | last `email` claim seen on connect, for fallback |
 * | `{p}:client-events` | stream | validated client events (`notification:mark_read`) for domain services |
 * | `{p}:client-events:dead` | stream | client events a consumer failed on too often |
 * | `{p}:fallback-sent:{eventId}:{userId}` | string | marks a settled fallback (email sent: its time; `live`; `undeliverable`), so retries never act twice |
 * | `{p}:stats:undeliverable` | counter | fallbacks that had no address |
 * | `{p}:event:{eventId}:{part}` | string | `{jobId}|{index}|{fingerprint}`: the events job that delivers (eventId, part), the pair's place in it, and `event.to.payload` short hashes of what the id stands for. 24 h, so a republish is skipped and a reuse for another event refused |
 * | `{p}:job-seqs:{jobId}` | string | the seqs of an events job's users: per item, in order, `;`-separated, its users' seqs `,`-separated, or `-` for a pair another job delivers. 24 h |
 * | `{p}:socket.io` | pub/sub | channel key shared by the Socket.IO redis adapter and emitter |
 * | `{p}:events:*`, `{p}:fallback:*` | BullMQ | the two queues |
 */
export interface RedisKeys {
  prefix: string;
  presence(userId: string): string;
  email(userId: string): string;
  clientEvents: string;
  clientEventsDead: string;
  fallbackSent(eventId: string, userId: string): string;
  undeliverable: string;
  /** The user's sequence counter and acked seq. */
  user(userId: string): string;
  /** The user's inbox: the events a reconnecting device can be replayed. */
  inbox(userId: string): string;
  /** Written when an event (or `toUsers` slice) is sequenced: publishing its id again within 24 h delivers once. */
  eventRecord(eventId: string, part: number): string;
  /** The seqs the publisher gave the users of an events job's items, read by the dispatcher with one GET. */
  jobSeqs(jobId: string): string;
  /** Passed as `key` to both `createAdapter` and `new Emitter`: they must agree. */
  socketIoChannel: string;
}

export function createKeys(prefix: string): RedisKeys {
  return {
    prefix,
    presence: (userId) => `${prefix}:presence:${userId}`,
    email: (userId) => `${prefix}:email:${userId}`,
    clientEvents: `${prefix}:client-events`,
    clientEventsDead: `${prefix}:client-events:dead`,
    fallbackSent: (eventId, userId) => `${prefix}:fallback-sent:${eventId}:${userId}`,
    undeliverable: `${prefix}:stats:undeliverable`,
    user: (userId) => `${prefix}:user:${userId}`,
    inbox: (userId) => `${prefix}:inbox:${userId}`,
    eventRecord: (eventId, part) => `${prefix}:event:${eventId}:${part}`,
    jobSeqs: (jobId) => `${prefix}:job-seqs:${jobId}`,
    socketIoChannel: `${prefix}:socket.io`,
  };
}
