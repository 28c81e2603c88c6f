import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { HeraldError, HeraldErrorCode, UserId } from '@herald/contracts';

/** Who a verified token says the connection belongs to. */
export interface Identity {
  userId: string;
  email: string | null;
  role: string | null;
  /** Extra rooms the token entitles the connection to (`rooms` claim). */
  rooms: string[];
  /** Expiry in seconds since the epoch, when the token has one. */
  exp: number | null;
}

export interface VerifyTokenOptions {
  secret: string;
  /** Accepted algorithms; never includes `none`. @default ['HS256'] */
  algorithms?: jwt.Algorithm[];
  /** Seconds of clock skew tolerated on `exp` and `nbf`. @default 5 */
  clockToleranceS?: number;
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

/**
 * Verifies an access token and extracts the identity. Throws `missing_token`,
 * `token_expired` or `invalid_token` (malformed, wrong signature, `alg: none`,
 * unexpected algorithm, no user id).
 */
export function verifyAccessToken(token: string | undefined | null, options: VerifyTokenOptions): Identity {
  if (!token) throw new HeraldError(HeraldErrorCode.missingToken, 'missing_token');
  let decoded: string | jwt.JwtPayload;
  try {
    decoded = jwt.verify(token, options.secret, {
      algorithms: options.algorithms ?? ['HS256'],
      clockTolerance: options.clockToleranceS ?? 5,
    });
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) {
      throw new HeraldError(HeraldErrorCode.tokenExpired, 'token_expired', { cause: error });
    }
    throw new HeraldError(HeraldErrorCode.invalidToken, 'invalid_token', { cause: error });
  }
  const claims = Claims.safeParse(decoded);
  const userId = claims.success ? pickUserId(claims.data) : null;
  if (!claims.success || !userId) {
    throw new HeraldError(HeraldErrorCode.invalidToken, 'invalid_token', {
      issues: [{ path: 'sub', message: 'the token names no valid user id (sub, userId or id)' }],
    });
  }
  return {
    userId,
    email: claims.data.email ?? null,
    role: claims.data.role ?? null,
    rooms: claims.data.rooms ?? [],
    exp: claims.data.exp ?? null,
  };
}
