import { z } from 'zod';
import type { Catalog } from './catalog.js';
import { HeraldError, HeraldErrorCode, type FieldIssue } from './errors.js';
import { EventId, RoomName, USER_ROOM_PREFIX, UserId } from './ids.js';
import { describeIssues, toFieldIssues } from './issues.js';

/** The most user ids one publish may name; the dispatcher works through them in chunks. */
export const MAX_USERS_PER_PUBLISH = 100_000;

/**
 * Default limit on one event's payload, as serialized JSON (UTF-8 bytes). It matches the
 * socket node's default message size: a larger event would sit in Redis and the queue
 * and then be too big for the devices anyway.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;

/** The shapes `to` may take, as the error for any other shape lists them. */
export const TARGET_SHAPES = '{ user: id }, { users: [id, …] }, { room: name } or { broadcast: true }';

/**
 * A room a producer may publish to: any room name but a user's own room (`user:{id}`).
 * Emitted there, an event would reach that user's devices live with no seq, no inbox
 * entry and no fallback; and an app that names rooms after user input (a team called
 * "user:alice") would send the team's events to alice.
 */
const PublishRoom = RoomName.refine((room) => !room.startsWith(USER_ROOM_PREFIX), {
  message: `rooms starting with '${USER_ROOM_PREFIX}' are users' own rooms: publish to { user: id } instead`,
});

/**
 * Who receives an event, as producers write it (HTTP body and publisher). A `to` of a
 * known shape with a bad id reports that id (`to.users[3]`); any other value gets one
 * issue listing the shapes, instead of zod's "Invalid input" for a union none matched.
 */
export const PublishTarget = z.union(
  [
    z.object({ user: UserId }).strict(),
    z.object({ users: z.array(UserId).min(1).max(MAX_USERS_PER_PUBLISH) }).strict(),
    z.object({ room: PublishRoom }).strict(),
    z.object({ broadcast: z.literal(true) }).strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `must be one of ${TARGET_SHAPES}` : undefined) },
);
export type PublishTarget = z.infer<typeof PublishTarget>;

/** `false` turns the event type's default fallback off; an object turns email on (and may name the address). */
export const FallbackOption = z.union([
  z.literal(false),
  z.object({ channel: z.literal('email').default('email'), email: z.email().optional() }).strict(),
]);
export type FallbackOption = z.input<typeof FallbackOption>;

/** Options of one publish. */
export const PublishOptions = z
  .object({
    /** Stable id for idempotency: publishing the same id twice delivers once. Default: a new UUID. */
    eventId: EventId.optional(),
    /** Overrides the event type's default fallback. */
    fallback: FallbackOption.optional(),
  })
  .strict();
export type PublishOptions = z.input<typeof PublishOptions>;

/** The body of `POST /v1/publish`. */
export const PublishRequest = z
  .object({
    event: z.string().min(1),
    to: PublishTarget,
    payload: z.unknown(),
    eventId: EventId.optional(),
    fallback: FallbackOption.optional(),
  })
  .strict();
export type PublishRequest = z.input<typeof PublishRequest>;

/** Where the dispatcher sends an event: normalised form of `PublishTarget`. */
export const JobTarget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('users'), userIds: z.array(UserId).min(1) }),
  z.object({ kind: z.literal('room'), room: RoomName }),
  z.object({ kind: z.literal('broadcast') }),
]);
export type JobTarget = z.infer<typeof JobTarget>;

/** A resolved fallback policy: only email exists today. */
export const FallbackPolicy = z.object({ channel: z.literal('email'), email: z.email().optional() });
export type FallbackPolicy = z.infer<typeof FallbackPolicy>;

/** A validated event, ready to enqueue. */
export const PreparedEvent = z.object({
  eventId: EventId,
  /**
   * Whether the producer chose `eventId`. Only such ids get dedupe records: a generated
   * one (a UUID) cannot come again, so recording it would cost memory for nothing.
   */
  idSupplied: z.boolean(),
  event: z.string().min(1),
  payload: z.unknown(),
  target: JobTarget,
  fallback: FallbackPolicy.nullable(),
  publishedAt: z.number(),
  /** Size of the payload as JSON (UTF-8 bytes), measured while validating; lets the publisher bound its batches. */
  payloadBytes: z.number().int().nonnegative().optional(),
  /** The payload as JSON, as measured: the publisher writes it into inbox entries without serializing it again. */
  payloadJson: z.string().optional(),
});
export type PreparedEvent = z.infer<typeof PreparedEvent>;

function invalid(message: string, issues: FieldIssue[]): HeraldError {
  return new HeraldError(HeraldErrorCode.invalidPayload, `${message}: ${describeIssues(issues)}`, { issues });
}

function normaliseTarget(to: PublishTarget): JobTarget {
  if ('user' in to) return { kind: 'users', userIds: [to.user] };
  if ('users' in to) return { kind: 'users', userIds: [...new Set(to.users)] };
  if ('room' in to) return { kind: 'room', room: to.room };
  return { kind: 'broadcast' };
}

export interface PrepareEventInput {
  event: string;
  to: unknown;
  payload: unknown;
  options?: unknown;
}

/** How `prepareEvent` checks and names events; the publisher passes its own options here. */
export interface PrepareEventSettings {
  /** Largest payload accepted, in bytes of serialized JSON (UTF-8). @default DEFAULT_MAX_PAYLOAD_BYTES (65_536) */
  maxPayloadBytes?: number;
  /** Makes the event id when the publish names none. @default crypto.randomUUID */
  newId?: () => string;
}

/** UTF-8 size of a string, counted without encoding a copy of it (works in browsers too). */
function utf8Length(text: string): number {
  // Node's native count where there is one (same rule for lone surrogates: 3 bytes each).
  const buffer = (globalThis as { Buffer?: { byteLength(text: string, encoding: 'utf8'): number } }).Buffer;
  if (buffer) return buffer.byteLength(text, 'utf8');
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one 4-byte character (a lone surrogate becomes 3 bytes of U+FFFD).
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Checks the size of a payload as it will travel (JSON in the job, then in each
 * Socket.IO packet). A payload JSON cannot carry (a BigInt, a cycle; loose objects
 * let such extra keys through the schema) is refused here too, instead of failing
 * later inside the queue client.
 */
function checkPayloadSize(
  event: string,
  payload: unknown,
  limit: number,
): { bytes: number; json: string | undefined } {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HeraldError(
      HeraldErrorCode.invalidPayload,
      `Invalid payload for "${event}": it cannot be serialized as JSON (${reason})`,
      { issues: [{ path: 'payload', message: 'not serializable as JSON' }], cause: error },
    );
  }
  const size = text === undefined ? 0 : utf8Length(text);
  if (size > limit) {
    const message = `is ${size} bytes as JSON; the limit is ${limit} bytes`;
    throw new HeraldError(
      HeraldErrorCode.invalidPayload,
      `Payload of "${event}" is too large: it ${message} (maxPayloadBytes). Send an id and let the client fetch the rest.`,
      { issues: [{ path: 'payload', message }] },
    );
  }
  return { bytes: size, json: text };
}

/**
 * Validates one publish against a catalog and resolves its defaults. This is the
 * single validation path: the publisher package and the HTTP API both call it.
 * Throws `unknown_event` or `invalid_payload` naming the event and each failing field
 * (a payload over `maxPayloadBytes` is an `invalid_payload` naming its size and the limit).
 */
export function prepareEvent(
  catalog: Catalog,
  input: PrepareEventInput,
  settings: PrepareEventSettings = {},
): PreparedEvent {
  const definition = Object.hasOwn(catalog, input.event) ? catalog[input.event] : undefined;
  if (!definition) {
    throw new HeraldError(
      HeraldErrorCode.unknownEvent,
      `Unknown event "${input.event}": add it to the catalog (extendCatalog) or use one of: ${Object.keys(catalog).join(', ')}`,
      { issues: [{ path: 'event', message: 'not in the catalog' }] },
    );
  }
  const to = PublishTarget.safeParse(input.to);
  if (!to.success) throw invalid(`Invalid target for "${input.event}"`, toFieldIssues(to.error, 'to'));
  const payload = definition.schema.safeParse(input.payload);
  if (!payload.success) {
    throw invalid(`Invalid payload for "${input.event}"`, toFieldIssues(payload.error, 'payload'));
  }
  const { bytes: payloadBytes, json: payloadJson } = checkPayloadSize(
    input.event,
    payload.data,
    settings.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
  );
  const options = PublishOptions.safeParse(input.options ?? {});
  if (!options.success) throw invalid(`Invalid options for "${input.event}"`, toFieldIssues(options.error));

  const target = normaliseTarget(to.data);
  const requested = options.data.fallback;
  if (requested && target.kind !== 'users') {
    throw invalid(`Invalid options for "${input.event}"`, [
      {
        path: 'fallback',
        message: 'fallback applies to user targets only; rooms and broadcast are live-only',
      },
    ]);
  }
  let fallback: FallbackPolicy | null = null;
  if (target.kind === 'users') {
    if (requested)
      fallback = requested.email ? { channel: 'email', email: requested.email } : { channel: 'email' };
    else if (requested === undefined && definition.fallback === 'email') fallback = { channel: 'email' };
  }
  return {
    eventId: options.data.eventId ?? (settings.newId ?? (() => crypto.randomUUID()))(),
    idSupplied: options.data.eventId !== undefined,
    event: input.event,
    // The parsed payload, not the input: it is what the schema vouched for (loose objects keep extra keys).
    payload: payload.data,
    target,
    fallback,
    publishedAt: Date.now(),
    payloadBytes,
    ...(payloadJson === undefined ? {} : { payloadJson }),
  };
}
