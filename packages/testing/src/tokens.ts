import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** The secret tests sign with, 32+ bytes as production requires. */
export const TEST_JWT_SECRET = 'herald-test-secret-0123456789abcdefghij';

export interface MintTokenOptions {
  secret?: string;
  /** Seconds until expiry; negative for an already expired token. @default 3600 */
  expiresInS?: number;
  email?: string;
  role?: string;
  rooms?: string[];
  extra?: Record<string, unknown>;
}

/** Signs an HS256 access token for `userId` (as `sub`). */
export function mintToken(userId: string, options: MintTokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: userId,
    iat: now,
    exp: now + (options.expiresInS ?? 3600),
    ...options.extra,
  };
  if (options.email) claims.email = options.email;
  if (options.role) claims.role = options.role;
  if (options.rooms) claims.rooms = options.rooms;
  return jwt.sign(claims, options.secret ?? TEST_JWT_SECRET, { algorithm: 'HS256' });
}

/** An unsigned token (`alg: none`), which every Herald door must refuse. */
export function mintUnsignedToken(userId: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: userId, iat: now, exp: now + 3600 })}.`;
}

/**
 * Signs any claims with any key and jsonwebtoken's options (RS/ES private keys,
 * `keyid`, `notBefore`, `issuer`…), for tests of the verifier. Adds nothing:
 * no `exp` unless the claims or options say so.
 */
export function signToken(claims: object, key: string | KeyObject, options: jwt.SignOptions = {}): string {
  return jwt.sign(claims, key, options);
}
