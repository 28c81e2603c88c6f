/**
 * Every code a caller may branch on. Messages are for people; codes are for code.
 */
export const HeraldErrorCode = {
  /** An event name that is not in the catalog. */
  unknownEvent: 'unknown_event',
  /** A payload, target or option that fails its schema. */
  invalidPayload: 'invalid_payload',
  /** A publish or API request that is malformed as a whole. */
  badRequest: 'bad_request',
  /** A missing or wrong API key. */
  unauthorized: 'unauthorized',
  /** Handshake without a token. */
  missingToken: 'missing_token',
  /** Handshake with a token that is malformed, wrongly signed, unsigned or lacks a user id. */
  invalidToken: 'invalid_token',
  /** Handshake with a token past its `exp`. */
  tokenExpired: 'token_expired',
  /** Too many client events or handshakes in too short a time: slow down and retry. */
  rateLimited: 'rate_limited',
  /** Handshake of a user who already has the configured number of connected devices. */
  tooManyDevices: 'too_many_devices',
  /** Browser handshake from an origin that is not in `CORS_ORIGIN`. */
  originNotAllowed: 'origin_not_allowed',
  /** An environment variable or option with a bad value. */
  invalidConfig: 'invalid_config',
  /** Something that was looked up is not there. */
  notFound: 'not_found',
  /** A fallback that cannot be sent because the user has no known address. */
  noAddress: 'no_address',
  /** Redis did not answer within `HERALD_REDIS_TIMEOUT_MS`: nothing was promised; retry (with the same `eventId`) later. */
  unavailable: 'unavailable',
  /** An `eventId` published before (within 24 h) with another event, target, payload or fallback. */
  eventIdConflict: 'event_id_conflict',
  /** An HTTP body that is not `application/json`. */
  unsupportedMediaType: 'unsupported_media_type',
  /** Anything else: a bug or an outage, never the caller's fault. */
  internal: 'internal',
} as const;

export type HeraldErrorCode = (typeof HeraldErrorCode)[keyof typeof HeraldErrorCode];

/** One failing field: a dotted path from the value's root and what was wrong. */
export interface FieldIssue {
  path: string;
  message: string;
}

export interface HeraldErrorOptions {
  cause?: unknown;
  issues?: FieldIssue[];
}

/** The one error type Herald throws. Branch on `code`; show `message`. */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';
  readonly code: HeraldErrorCode;
  readonly issues: FieldIssue[];

  constructor(code: HeraldErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
  }

  toJSON(): { code: HeraldErrorCode; message: string; issues?: FieldIssue[] } {
    return this.issues.length > 0
      ? { code: this.code, message: this.message, issues: this.issues }
      : { code: this.code, message: this.message };
  }
}

/** Turns anything thrown into a HeraldError, keeping the original as `cause`. */
export function toHeraldError(error: unknown): HeraldError {
  if (error instanceof HeraldError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HeraldError(HeraldErrorCode.internal, message, { cause: error });
}

export function isHeraldError(error: unknown, code?: HeraldErrorCode): error is HeraldError {
  return error instanceof HeraldError && (code === undefined || error.code === code);
}
