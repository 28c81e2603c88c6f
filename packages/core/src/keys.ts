/**
 * Every Redis key and channel Herald uses, in one place so the layout can be read
 * at a glance. `prefix` carries a hash tag (`{herald}`), so on Redis Cluster all of
 * them share one slot; BullMQ queues use the same prefix.
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `{p}:presence:{userId}` | zset | one member per connected socket (`nodeId|socketId`), score = expiry (ms) |
 * | `{p}:email:{userId}` | string | last `email` claim seen on connect, for fallback |
 * | `{p}:client-events` | stream | validated client events (`notification:mark_read`) for domain services |
 * | `{p}:client-events:dead` | stream | client events a consumer failed on too often |
 * | `{p}:fallback-sent:{eventId}:{userId}` | string | marks a settled fallback (email sent: its time; `live`; `undeliverable`), so retries never act twice |
 * | `{p}:stats:undeliverable` | counter | fallbacks that had no address |
 * | `{p}:event-claim:{eventId}:{part}` | string | id of the events job that delivers (eventId, part); 24 h, so a republish is skipped |
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
  /** Claimed by the dispatcher per (event id, `toUsers` slice): publishing an event id again within 24 h delivers once. */
  eventClaim(eventId: string, part: number): string;
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
    eventClaim: (eventId, part) => `${prefix}:event-claim:${eventId}:${part}`,
    socketIoChannel: `${prefix}:socket.io`,
  };
}
