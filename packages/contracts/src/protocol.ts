import { z } from 'zod';
import { NotificationId, UserId } from './ids.js';

/**
 * Herald's delivery metadata, the second argument of every published event.
 * `id` is unique and stable across retries; `seq` is the user's sequence number
 * (user-targeted events only; rooms and broadcast have none).
 */
export const DeliveryMeta = z.object({
  id: z.string(),
  seq: z.number().int().positive().optional(),
  ts: z.number(),
  replayed: z.boolean().optional(),
});
export type DeliveryMeta = z.infer<typeof DeliveryMeta>;

/**
 * Sent once after a successful handshake, before any replay. Not publishable. `seq` is
 * the user's latest sequence number when the device connected (0 before any event): a
 * device without a cursor starts from it; events with a seq at or below it were published
 * before this device connected.
 */
export const AuthenticatedPayload = z.object({
  success: z.literal(true),
  userId: z.string(),
  email: z.string().nullable(),
  seq: z.number().int().nonnegative().optional(),
});
export type AuthenticatedPayload = z.infer<typeof AuthenticatedPayload>;

/** Sent to one socket when something it sent was refused. Not publishable. */
export const ErrorPayload = z.object({ message: z.string(), code: z.string() });
export type ErrorPayload = z.infer<typeof ErrorPayload>;

/** Client → server events, validated by the socket node before anything else sees them. */
export const clientEventSchemas = {
  'notification:mark_read': z.object({ notificationId: NotificationId }).strict(),
} as const;
export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientEventPayload<E extends ClientEventName> = z.infer<(typeof clientEventSchemas)[E]>;

/**
 * Herald's own client → server events, validated like the client events but kept
 * apart from them: the socket node answers them itself and they never reach the
 * client-events stream (`herald:auth` carries a token).
 */
export const protocolEventSchemas = {
  /** A fresh access token for the same user, sent in-band before the current one expires. */
  'herald:auth': z.object({ token: z.string().min(1) }).strict(),
  /**
   * Cumulative acknowledgement: this device has handled every event of its user up to
   * and including `seq`. The user's acked seq is the highest any of its devices sent.
   */
  'herald:ack': z.object({ seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) }).strict(),
  /**
   * Replay request: send again every inbox event with a seq greater than `lastSeq`
   * (marked `replayed`), preceded by `herald:gap` when the inbox no longer holds all of them.
   */
  'herald:sync': z.object({ lastSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) }).strict(),
} as const;
export type ProtocolEventName = keyof typeof protocolEventSchemas;
export type ProtocolEventPayload<E extends ProtocolEventName> = z.infer<(typeof protocolEventSchemas)[E]>;

/** True for Herald's own client → server events (see `protocolEventSchemas`). */
export function isProtocolEventName(event: unknown): event is ProtocolEventName {
  return typeof event === 'string' && Object.hasOwn(protocolEventSchemas, event);
}

/**
 * Sent to one socket shortly before its token expires (`exp`, seconds since the
 * epoch): send `herald:auth` with a fresh token, or be disconnected at `exp`.
 */
export const TokenExpiringPayload = z.object({ exp: z.number().int() });
export type TokenExpiringPayload = z.infer<typeof TokenExpiringPayload>;

/** What the socket node answers through `herald:auth`'s ack: the new expiry, or why the token was refused. */
export type HeraldAuthAck =
  { accepted: true; exp: number } | { accepted: false; code: string; message: string };

/** What the socket node answers through a client event's ack callback. */
export type ClientEventAck = { accepted: true } | { accepted: false; code: string; message: string };

/** A client event as domain services read it back from the client-events stream. */
export const ClientEventRecord = z.object({
  id: z.string(),
  type: z.string(),
  userId: z.string(),
  payload: z.unknown(),
  socketId: z.string(),
  nodeId: z.string(),
  ts: z.number(),
});
export type ClientEventRecord = z.infer<typeof ClientEventRecord>;

/**
 * What a device may add to its handshake's `auth` besides the token. A device that sends
 * `lastSeq` gets every inbox event with a greater seq replayed right after it connects.
 * `lastSeqUserId` names the user that cursor belongs to: when it is not the token's user
 * (another account on the same browser), the cursor is ignored. `acks: true` declares that
 * the device sends `herald:ack`: its user then gets the fallback unless some device acks,
 * while a device that does not declare it counts as having received whatever was emitted
 * while it was connected.
 */
export const ReplayCursor = z.object({
  lastSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  lastSeqUserId: UserId.optional(),
  acks: z.boolean().optional(),
});
export type ReplayCursor = z.infer<typeof ReplayCursor>;

/**
 * Sent before a replay whose start the inbox no longer holds (trimmed past
 * `HERALD_INBOX_MAX`, or expired after `HERALD_INBOX_TTL_S`): the events with seq
 * `fromSeq`..`toSeq` (inclusive) cannot be replayed; refetch them from the app's own API.
 */
export const GapPayload = z.object({
  fromSeq: z.number().int().positive(),
  toSeq: z.number().int().positive(),
});
export type GapPayload = z.infer<typeof GapPayload>;

/**
 * Sent to every device of a node when the node's Redis subscription came back after a
 * loss (Redis restarted, the network dropped): events emitted meanwhile never reached the
 * node. A device that keeps a cursor sends `herald:sync` with it; the SDK does so by itself.
 */
export const ResyncPayload = z.object({ reason: z.string() });
export type ResyncPayload = z.infer<typeof ResyncPayload>;

/**
 * What the socket node answers through `herald:sync`'s ack, after the replayed events
 * (and any `herald:gap`) went out on the same socket: the user's latest seq and how many
 * events were replayed.
 */
export type SyncAck =
  { accepted: true; seq: number; replayed: number } | { accepted: false; code: string; message: string };

/**
 * One event in a user's inbox (a Redis list, oldest first), as the publisher appends it
 * and the socket node replays it. The list holds JSON of this shape.
 */
export const InboxEntry = z.object({
  seq: z.number().int().positive(),
  id: z.string(),
  event: z.string(),
  ts: z.number(),
  payload: z.unknown(),
});
export type InboxEntry = z.infer<typeof InboxEntry>;

/** Events a user's inbox keeps (`HERALD_INBOX_MAX`); older ones are trimmed. */
export const DEFAULT_INBOX_MAX = 500;
/** Seconds an inbox lives after its last append (`HERALD_INBOX_TTL_S`). */
export const DEFAULT_INBOX_TTL_S = 86_400;
/** How long after publishing the fallback check waits for an ack (`HERALD_ACK_TIMEOUT_MS`). */
export const DEFAULT_ACK_TIMEOUT_MS = 30_000;
