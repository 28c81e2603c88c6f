import { z } from 'zod';

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

/** Sent once after a successful handshake. Not publishable. */
export const AuthenticatedPayload = z.object({
  success: z.literal(true),
  userId: z.string(),
  email: z.string().nullable(),
});
export type AuthenticatedPayload = z.infer<typeof AuthenticatedPayload>;

/** Sent to one socket when something it sent was refused. Not publishable. */
export const ErrorPayload = z.object({ message: z.string(), code: z.string() });
export type ErrorPayload = z.infer<typeof ErrorPayload>;

/** Client → server events, validated by the socket node before anything else sees them. */
export const clientEventSchemas = {
  'notification:mark_read': z.object({ notificationId: z.string().min(1).max(200) }).strict(),
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
