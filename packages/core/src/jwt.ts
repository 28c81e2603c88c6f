import jwt from 'jsonwebtoken';
import { z } from 'zod';
import {
  HeraldError,
  HeraldErrorCode,
  RoomName,
  UserId,
  describeIssues,
  toFieldIssues,
  type FieldIssue,
} from '@herald/contracts';
import { createKeyRing, type JwtAlgorithm, type KeyRing } from './jwt-keys.js';

/** Who a verified token says the connection belongs to. */
export interface Identity {
  userId: string;
  email: string | null;
  role: string | null;
  /** Extra rooms the token entitles the connection to (`rooms` claim). */
  rooms: string[];
  /** Expiry in seconds since the epoch (every accepted token has one). */
  exp: number;
}

/** Longest token read at all: anything larger is refused before it is decoded. */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** @default 5, the clock skew tolerated on `exp` and `nbf` */
export const DEFAULT_CLOCK_TOLERANCE_S = 5;

export interface VerifyTokenOptions {
  /** The keys tokens may be signed with; build it once with `createKeyRing`. */
  keys?: KeyRing;
  /** Shorthand for a ring of this one HS secret (when `keys` is not given). */
  secret?: string;
  /** Accepted algorithms with `secret`; `keys` carries its own. @default ['HS256'] */
  algorithms?: JwtAlgorithm[];
  /** Accepted `iss` values; unset or empty: not checked. */
  issuer?: string | string[];
  /** Accepted `aud` values (one must match); unset or empty: not checked. */
  audience?: string | string[];
  /** Seconds of clock skew tolerated on `exp` and `nbf`. @default 5 */
  clockToleranceS?: number;
  /** Longer tokens are refused before parsing. @default 8192 */
  maxTokenBytes?: number;
}

/** The most rooms one token's `rooms` claim may name. */
const MAX_TOKEN_ROOMS = 100;

const Claims = z.looseObject({
  sub: z.unknown().optional(),
  userId: z.unknown().optional(),
  id: z.unknown().optional(),
  email: z.string().optional(),
  role: z.string().optional(),
  rooms: z
    .array(RoomName, {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? `must be an array of room names, e.g. ["team-1"]; got ${kindOf(issue.input)}`
          : undefined,
    })
    .max(MAX_TOKEN_ROOMS, `must name at most ${MAX_TOKEN_ROOMS} rooms`)
    .optional(),
  exp: z.number().optional(),
});

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The user id of a token: `sub`, else `userId`, else `id`: the first one present, which
 * must then follow the id grammar. `sub` must be a string (RFC 7519 §4.1.2); a number in
 * `userId` or `id` is turned into a string, as the original module signed `{ userId }`
 * with database ids. A present but malformed claim refuses the token instead of falling
 * through to the next one, so one token can never be read as two different users.
 */
function pickUserId(claims: z.infer<typeof Claims>): { userId: string } | { issue: FieldIssue } {
  const name = (['sub', 'userId', 'id'] as const).find((claim) => claims[claim] !== undefined);
  if (name === undefined) {
    return { issue: { path: 'sub', message: 'the token names no user id (sub, userId or id)' } };
  }
  const raw = claims[name];
  const value = name !== 'sub' && typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
  const parsed = UserId.safeParse(value);
  if (parsed.success) return { userId: parsed.data };
  return { issue: { path: name, message: parsed.error.issues[0]?.message ?? 'is not a valid user id' } };
}

function invalid(message: string, cause?: unknown): HeraldError {
  return new HeraldError(HeraldErrorCode.invalidToken, message, { cause });
}

const MALFORMED = 'The access token is malformed: sign in again to get a new one.';

/** Turns what jsonwebtoken threw into a HeraldError whose message says which check failed. */
function explain(error: unknown): HeraldError {
  if (error instanceof jwt.TokenExpiredError) {
    return new HeraldError(HeraldErrorCode.tokenExpired, 'The access token has expired: refresh it.', {
      cause: error,
    });
  }
  if (error instanceof jwt.NotBeforeError) {
    return invalid('The access token is not valid yet (its nbf is in the future): check the clocks.', error);
  }
  const text = error instanceof Error ? error.message : '';
  if (text.startsWith('jwt issuer invalid')) {
    return invalid('The access token was issued by an issuer (iss) this server does not accept.', error);
  }
  if (text.startsWith('jwt audience invalid')) {
    return invalid('The access token is meant for another audience (aud).', error);
  }
  if (text === 'invalid signature') {
    return invalid('The access token is wrongly signed: sign in again to get a new one.', error);
  }
  return invalid(MALFORMED, error);
}

/** Rings built for the `secret` shorthand, so a hot path does not rebuild one per call. */
let lastShorthand: { secret: string; algorithms: string; ring: KeyRing } | undefined;

function ringOf(options: VerifyTokenOptions): KeyRing {
  if (options.keys) return options.keys;
  if (options.secret === undefined) {
    throw new HeraldError(HeraldErrorCode.invalidConfig, 'verifyAccessToken needs `keys` or `secret`');
  }
  const algorithms = (options.algorithms ?? ['HS256']).join(',');
  if (lastShorthand?.secret !== options.secret || lastShorthand.algorithms !== algorithms) {
    const ring = createKeyRing({
      keys: [{ secret: options.secret, label: 'secret' }],
      algorithms: options.algorithms ?? ['HS256'],
    });
    lastShorthand = { secret: options.secret, algorithms, ring };
  }
  return lastShorthand.ring;
}

/** jsonwebtoken treats `[]` as "must be one of nothing"; Herald means "not checked". */
function nonEmpty(value: string | string[] | undefined): string | [string, ...string[]] | undefined {
  if (Array.isArray(value)) return value.length > 0 ? (value as [string, ...string[]]) : undefined;
  return value || undefined;
}

/**
 * Verifies an access token and extracts the identity: the one path every token
 * (handshake and in-band refresh) goes through. Throws `missing_token`,
 * `token_expired` or `invalid_token` whose message says which check failed:
 * too large (checked before decoding), malformed, unknown `kid`, an algorithm the
 * chosen key does not verify (`none` never), wrong signature, no `exp`, `nbf` in
 * the future, wrong `iss` / `aud`, no user id.
 *
 * @example
 * const keys = createKeyRing({ keys: [{ secret }] });
 * const identity = verifyAccessToken(token, { keys, issuer: 'https://auth.example.com' });
 */
export function verifyAccessToken(token: string | undefined | null, options: VerifyTokenOptions): Identity {
  if (token === undefined || token === null || token === '') {
    throw new HeraldError(HeraldErrorCode.missingToken, 'missing_token');
  }
  if (typeof token !== 'string') throw invalid(MALFORMED);
  const maxBytes = options.maxTokenBytes ?? MAX_TOKEN_BYTES;
  // Length first: a string's UTF-8 size is at least its length, so a huge one is not even measured.
  if (token.length > maxBytes || Buffer.byteLength(token, 'utf8') > maxBytes) {
    throw invalid(`The access token is too large (over ${maxBytes} bytes): it was not read.`);
  }
  const ring = ringOf(options);

  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(token, { complete: true });
  } catch (error) {
    throw invalid(MALFORMED, error);
  }
  if (!decoded || typeof decoded.header !== 'object' || decoded.header === null) throw invalid(MALFORMED);
  // The unverified header only picks the key; verify() is then pinned to that key's algorithms.
  const key = ring.select(decoded.header);

  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key.key, {
      algorithms: key.algorithms,
      clockTolerance: options.clockToleranceS ?? DEFAULT_CLOCK_TOLERANCE_S,
      issuer: nonEmpty(options.issuer),
      audience: nonEmpty(options.audience),
    });
  } catch (error) {
    throw explain(error);
  }
  if (typeof payload !== 'object' || typeof payload.exp !== 'number') {
    // A token without exp would keep a connection open forever (issue 4: exp is required).
    throw invalid('The access token has no exp claim: Herald accepts only tokens that expire.');
  }
  const claims = Claims.safeParse(payload);
  if (!claims.success) {
    const issues = toFieldIssues(claims.error);
    throw new HeraldError(
      HeraldErrorCode.invalidToken,
      `The access token has invalid claims: ${describeIssues(issues)}.`,
      { issues },
    );
  }
  const picked = pickUserId(claims.data);
  if ('issue' in picked) {
    throw new HeraldError(
      HeraldErrorCode.invalidToken,
      `The access token names no valid user id: ${describeIssues([picked.issue])}.`,
      { issues: [picked.issue] },
    );
  }
  return {
    userId: picked.userId,
    email: claims.data.email ?? null,
    role: claims.data.role ?? null,
    rooms: claims.data.rooms ?? [],
    exp: payload.exp,
  };
}
