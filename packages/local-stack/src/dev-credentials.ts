import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface DevCredentialsOptions {
  /** Secret the socket node verifies tokens with. @default a random 32-byte secret, new at every start */
  jwtSecret?: string;
  /** Key the publish API accepts. @default a random key, new at every start */
  apiKey?: string;
  /** Whom the dev token is for. */
  userId: string;
  /** The token's `email` claim, which the fallback worker mails to. */
  email: string;
  /** Token lifetime. @default 86_400 (24 h) */
  expiresInS?: number;
}

export interface DevCredentials {
  jwtSecret: string;
  apiKey: string;
  /** An HS256 access token for `userId`, signed with `jwtSecret`. */
  token: string;
  userId: string;
  /** Which of the two were made up here, so the banner can say so. */
  generated: { jwtSecret: boolean; apiKey: boolean };
}

/**
 * The secret, API key and token a first run needs. Given values are kept, so a
 * developer with their own JWT_SECRET gets a token their other tools accept; the
 * rest are random, so a forgotten dev stack never runs with a well-known secret.
 */
export function createDevCredentials(options: DevCredentialsOptions): DevCredentials {
  const jwtSecret = options.jwtSecret ?? randomBytes(32).toString('base64url');
  const apiKey = options.apiKey ?? `dev_${randomBytes(24).toString('base64url')}`;
  const token = jwt.sign({ sub: options.userId, email: options.email }, jwtSecret, {
    algorithm: 'HS256',
    expiresIn: options.expiresInS ?? 86_400,
  });
  return {
    jwtSecret,
    apiKey,
    token,
    userId: options.userId,
    generated: { jwtSecret: options.jwtSecret === undefined, apiKey: options.apiKey === undefined },
  };
}
