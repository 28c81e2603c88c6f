import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { HeraldError, HeraldErrorCode, UserId } from '@herald/contracts';
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

const Claims = z.looseObject({
  sub: z.unknown().optional(),
  userId: z.unknown().optional(),
  id: z.unknown().optional(),
  email: z.string().optional(),
  role: z.string().optional(),
  rooms: z.array(z.string().min(1).max(200)).max(100).optional(),
  exp: z.number().optional(),
});

/** The user id of a token: `sub`, else `userId`, else `id` (numbers are accepted and turned into strings). */
function pickUserId(claims: z.infer<typeof Claims>): string | null {
  for (const candidate of [claims.sub, claims.userId, claims.id]) {
    const value = typeof candidate === 'number' ? String(candidate) : candidate;
    if (typeof value === 'string' && UserId.safeParse(value).success) return value;
  }
  return null;
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
  const userId = claims.success ? pickUserId(claims.data) : null;
  if (!claims.success || !userId) {
    throw new HeraldError(
      HeraldErrorCode.invalidToken,
      'The access token names no valid user id (sub, userId or id).',
      { issues: [{ path: 'sub', message: 'the token names no valid user id (sub, userId or id)' }] },
    );
  }
  return {
    userId,
    email: claims.data.email ?? null,
    role: claims.data.role ?? null,
    rooms: claims.data.rooms ?? [],
    exp: payload.exp,
  };
}
