import type { ExtendedError } from 'socket.io';
import type { Logger } from '@herald/core';
import { HeraldError, HeraldErrorCode, toHeraldError } from '@herald/contracts';
import { verifyAccessToken } from '@herald/core';
import type { HeraldSocket } from './types.js';

/** What a refused client sees: `connect_error` with `message` = the code, and `data` for people. */
export interface RefusalData {
  code: HeraldErrorCode;
  message: string;
}

const REFUSAL_TEXT: Partial<Record<HeraldErrorCode, string>> = {
  [HeraldErrorCode.missingToken]:
    'No access token: pass it as auth.token or in an "Authorization: Bearer <token>" header.',
  [HeraldErrorCode.invalidToken]:
    'The access token is malformed, wrongly signed, unsigned or names no user: sign in again to get a new one.',
  [HeraldErrorCode.tokenExpired]: 'The access token has expired: refresh it and reconnect.',
};

/** Rooms a `rooms` claim may not name: a token must never put a device into another user's room. */
const USER_ROOM_PREFIX = 'user:';

/** The room every device of `userId` joins; the dispatcher emits user-targeted events into it. */
export function userRoom(userId: string): string {
  return `${USER_ROOM_PREFIX}${userId}`;
}

/**
 * The access token of a handshake: `auth.token`, else an `Authorization: Bearer`
 * header (what non-browser clients and proxies send). A `Bearer ` prefix inside
 * `auth.token` is tolerated, because some clients copy the header value there.
 * Throws `invalid_token` when `auth.token` is present but not a string.
 */
export function extractToken(auth: unknown, authorization: string | undefined): string | undefined {
  const fromAuth =
    typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
  if (fromAuth !== undefined && fromAuth !== null && fromAuth !== '') {
    if (typeof fromAuth !== 'string') {
      throw new HeraldError(HeraldErrorCode.invalidToken, 'invalid_token');
    }
    return stripBearer(fromAuth);
  }
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new HeraldError(HeraldErrorCode.invalidToken, 'invalid_token');
    return match[1];
  }
  return undefined;
}

function stripBearer(value: string): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? value.trim();
}

/** A Socket.IO middleware error: `message` is exactly the code, so clients can branch on it. */
export function refusal(code: HeraldErrorCode, text?: string): ExtendedError {
  const error: ExtendedError = new Error(code);
  const data: RefusalData = { code, message: text ?? REFUSAL_TEXT[code] ?? 'The connection was refused.' };
  error.data = data;
  return error;
}

export interface AuthenticateOptions {
  jwtSecret: string;
  logger: Logger;
  /** True once the node is shutting down: new handshakes are refused so they go to another node. */
  isClosing: () => boolean;
}

/**
 * The handshake middleware (`io.use`). Verifies the token and, only on success,
 * fills `socket.data` and joins the user's room and the token's `rooms`. A refused
 * socket is cleaned up by Socket.IO (`_cleanup` leaves every room), so it joins
 * nothing; presence is registered later, on `connection`, so it leaves none either.
 */
export function createAuthenticate(options: AuthenticateOptions) {
  const log = options.logger;
  return function authenticate(socket: HeraldSocket, next: (error?: ExtendedError) => void): void {
    if (options.isClosing()) {
      next(
        refusal(
          HeraldErrorCode.internal,
          'This node is shutting down: reconnect and you will reach another one.',
        ),
      );
      return;
    }
    try {
      const { handshake } = socket;
      const token = extractToken(handshake.auth, handshake.headers.authorization);
      const identity = verifyAccessToken(token, { secret: options.jwtSecret });
      socket.data = { userId: identity.userId, email: identity.email, role: identity.role };
      const rooms = [userRoom(identity.userId)];
      for (const room of identity.rooms) {
        if (room.startsWith(USER_ROOM_PREFIX)) {
          log.warn({ userId: identity.userId, room }, 'ignoring a rooms claim that names a user room');
        } else {
          rooms.push(room);
        }
      }
      void socket.join(rooms);
      next();
    } catch (error) {
      const herald = toHeraldError(error);
      const known =
        herald.code === HeraldErrorCode.missingToken ||
        herald.code === HeraldErrorCode.invalidToken ||
        herald.code === HeraldErrorCode.tokenExpired;
      if (!known) log.error({ err: error }, 'handshake failed unexpectedly');
      else log.debug({ code: herald.code }, 'handshake refused');
      next(
        refusal(
          known ? herald.code : HeraldErrorCode.internal,
          known ? undefined : 'The server could not check the token: try again.',
        ),
      );
    }
  };
}
