import type { ExtendedError } from 'socket.io';
import type { Identity, Logger } from '@herald/core';
import {
  HeraldError,
  HeraldErrorCode,
  ID_RULE,
  ReplayCursor,
  USER_ROOM_PREFIX,
  describeIssues,
  isId,
  toFieldIssues,
  toHeraldError,
  userRoom,
} from '@herald/contracts';
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

/**
 * Extra rooms a connection may join, decided by the embedding service at the
 * handshake (team membership, a tenant…), besides the token's `rooms` claim.
 * Called once per accepted handshake; a throw refuses the connection (`internal`).
 */
export type AuthorizeRooms = (identity: Identity) => string[] | Promise<string[]>;

export interface AuthenticateOptions {
  /** The node's one verification path (see `createTokenVerifier`). */
  verify: (token: string | undefined) => Identity;
  /** Rooms beyond the token's claim; `user:*` rooms other than the user's own are never joined. */
  authorizeRooms?: AuthorizeRooms;
  /** Told about each accepted socket (token lifetime keeps its `exp`). */
  onAccepted?: (socket: HeraldSocket, identity: Identity) => void;
  logger: Logger;
  /** True once the node is shutting down: new handshakes are refused so they go to another node. */
  isClosing: () => boolean;
}

const KNOWN_REFUSALS: ReadonlySet<HeraldErrorCode> = new Set([
  HeraldErrorCode.missingToken,
  HeraldErrorCode.invalidToken,
  HeraldErrorCode.tokenExpired,
  HeraldErrorCode.invalidPayload,
]);

/**
 * The handshake middleware (`io.use`). Verifies the token and, only on success,
 * fills `socket.data` and joins the user's room, the token's `rooms` and those of
 * `authorizeRooms`. A client never names a room itself, and no way in joins
 * another user's `user:*` room. A refused socket is cleaned up by Socket.IO
 * (`_cleanup` leaves every room), so it joins nothing; presence is registered
 * later, on `connection`, so it leaves none either.
 */
/**
 * The replay cursor and ack declaration of a handshake's `auth`. A cursor that belongs to
 * another user (`lastSeqUserId`) is ignored; a malformed one refuses the connection, as
 * replaying from a wrong place would be worse than saying so.
 */
export function readCursor(auth: unknown, userId: string): { lastSeq?: number; acks?: boolean } {
  if (typeof auth !== 'object' || auth === null) return {};
  const parsed = ReplayCursor.safeParse(auth);
  if (!parsed.success) {
    throw new HeraldError(
      HeraldErrorCode.invalidPayload,
      `Invalid replay cursor: ${describeIssues(toFieldIssues(parsed.error, 'auth'))}`,
    );
  }
  const { lastSeq, lastSeqUserId, acks } = parsed.data;
  const own = lastSeq !== undefined && (lastSeqUserId === undefined || lastSeqUserId === userId);
  return { ...(own ? { lastSeq } : {}), ...(acks ? { acks: true } : {}) };
}

export function createAuthenticate(options: AuthenticateOptions) {
  const log = options.logger;

  /** Adds the acceptable rooms of `candidates` to `rooms`, logging (never joining) the rest. */
  function addRooms(rooms: Set<string>, candidates: readonly unknown[], userId: string, from: string): void {
    const own = userRoom(userId);
    for (const room of candidates) {
      if (!isId(room)) {
        log.warn({ userId, from }, `ignoring a room name outside the grammar (${ID_RULE})`);
      } else if (room.startsWith(USER_ROOM_PREFIX) && room !== own) {
        log.warn({ userId, room, from }, "ignoring another user's room");
      } else {
        rooms.add(room);
      }
    }
  }

  async function admit(socket: HeraldSocket): Promise<void> {
    const { handshake } = socket;
    const token = extractToken(handshake.auth, handshake.headers.authorization);
    const identity = options.verify(token);
    const cursor = readCursor(handshake.auth, identity.userId);
    const rooms = new Set([userRoom(identity.userId)]);
    addRooms(rooms, identity.rooms, identity.userId, 'token');
    if (options.authorizeRooms) {
      let extra: unknown;
      try {
        extra = await options.authorizeRooms(identity);
      } catch (error) {
        log.error({ err: error, userId: identity.userId }, 'authorizeRooms failed: connection refused');
        throw new HeraldError(
          HeraldErrorCode.internal,
          'The server could not decide which rooms this connection may join: try again.',
        );
      }
      if (!Array.isArray(extra)) {
        log.error({ userId: identity.userId }, 'authorizeRooms returned no array: connection refused');
        throw new HeraldError(
          HeraldErrorCode.internal,
          'The server could not decide which rooms this connection may join: try again.',
        );
      }
      addRooms(rooms, extra, identity.userId, 'authorizeRooms');
    }
    // Copied now: the handshake (and its auth) is dropped once the socket is connected.
    socket.data = { userId: identity.userId, email: identity.email, role: identity.role, ...cursor };
    void socket.join([...rooms]);
    options.onAccepted?.(socket, identity);
  }

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
    admit(socket).then(
      () => next(),
      (error: unknown) => {
        const herald = toHeraldError(error);
        if (KNOWN_REFUSALS.has(herald.code)) {
          log.debug({ code: herald.code }, 'handshake refused');
          // Messages of verifyAccessToken say which check failed; bare codes get the generic text.
          next(refusal(herald.code, herald.message === herald.code ? undefined : herald.message));
        } else if (herald.code === HeraldErrorCode.internal && herald.cause === undefined) {
          // Thrown by admit() itself (authorizeRooms failed, already logged): its text is for the client.
          next(refusal(herald.code, herald.message));
        } else {
          log.error({ err: error }, 'handshake failed unexpectedly');
          next(refusal(HeraldErrorCode.internal, 'The server could not check the token: try again.'));
        }
      },
    );
  };
}
