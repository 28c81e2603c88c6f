import type { Identity, Logger } from '@herald/core';
import {
  HeraldErrorCode,
  describeIssues,
  protocolEventSchemas,
  toFieldIssues,
  toHeraldError,
  type HeraldAuthAck,
} from '@herald/contracts';
import { DeadlineWheel } from './deadline-wheel.js';
import type { HeraldSocket } from './types.js';

export interface TokenLifetimeOptions {
  /** Verifies a token sent in-band: the same function the handshake uses. */
  verify: (token: string) => Identity;
  /** Seconds before `exp` when the socket gets `herald:token_expiring`; 0 sends none. @default 60 */
  warningS?: number;
  /**
   * Seconds after `exp` before the socket is disconnected: the verifier's clock
   * tolerance, so a token the handshake still accepts is not cut at once. @default 5
   */
  graceS?: number;
  logger: Logger;
}

export interface TokenLifetime {
  /** Keeps the expiry of a socket the handshake accepted, until it connects. */
  remember: (socket: HeraldSocket, exp: number) => void;
  /** The `connection` listener: schedules the warning and the cut, listens for `herald:auth`. */
  onConnection: (socket: HeraldSocket) => void;
  /** Sockets whose expiry is scheduled. */
  readonly tracked: number;
  /** Drops every schedule (the node is closing and disconnects its sockets itself). */
  close: () => void;
}

type AuthAck = (result: HeraldAuthAck) => void;

const EXPIRED_TEXT =
  'The access token has expired: reconnect with a fresh one (or send herald:auth before it expires).';

/**
 * Enforces token expiry on live connections (issue 4, item 2): `warningS` before
 * a socket's `exp` it gets `herald:token_expiring { exp }`; it may answer with
 * `herald:auth { token }`, verified like a handshake, which must name the same
 * user and moves the expiry (ack `{ accepted: true, exp }`); otherwise at
 * `exp + graceS` it gets `error { code: 'token_expired' }` and is disconnected.
 *
 * Memory per connection: one Map entry (socket → exp) and one slot in a Set per
 * deadline; two timers for the whole node (see DeadlineWheel), and listeners
 * shared by every socket (`this` is the socket), none closing over the handshake.
 * Rooms and email stay those of the handshake; only the expiry moves.
 */
export function createTokenLifetime(options: TokenLifetimeOptions): TokenLifetime {
  const log = options.logger;
  const warningS = options.warningS ?? 60;
  const graceS = options.graceS ?? 5;
  if (!Number.isInteger(warningS) || warningS < 0) {
    throw new RangeError(`tokenExpiryWarningS must be an integer >= 0, got ${warningS}`);
  }
  if (!Number.isInteger(graceS) || graceS < 0) {
    throw new RangeError(`token expiry grace must be an integer >= 0 seconds, got ${graceS}`);
  }

  /** Handshake → connection hand-over; entries of sockets that never connect go with them. */
  const pending = new WeakMap<HeraldSocket, number>();
  /** Connected sockets and the `exp` their deadlines were scheduled for. */
  const expOf = new Map<HeraldSocket, number>();

  const warnings = new DeadlineWheel<HeraldSocket>((sockets) => {
    for (const socket of sockets) {
      const exp = expOf.get(socket);
      if (exp !== undefined && socket.connected) socket.emit('herald:token_expiring', { exp });
    }
  });
  const expiries = new DeadlineWheel<HeraldSocket>((sockets) => {
    for (const socket of sockets) {
      expOf.delete(socket);
      if (!socket.connected) continue;
      try {
        socket.emit('error', { code: HeraldErrorCode.tokenExpired, message: EXPIRED_TEXT });
        // true: close the connection too, after the error above is flushed.
        socket.disconnect(true);
      } catch (error) {
        log.error({ err: error, userId: socket.data.userId }, 'disconnecting an expired socket failed');
      }
    }
  });

  function schedule(socket: HeraldSocket, exp: number): void {
    unschedule(socket);
    expOf.set(socket, exp);
    if (warningS > 0) warnings.add(exp - warningS, socket);
    expiries.add(exp + graceS, socket);
  }

  function unschedule(socket: HeraldSocket): void {
    const exp = expOf.get(socket);
    if (exp === undefined) return;
    expOf.delete(socket);
    warnings.delete(exp - warningS, socket);
    expiries.delete(exp + graceS, socket);
  }

  function refuse(socket: HeraldSocket, ack: AuthAck | undefined, code: HeraldErrorCode, message: string) {
    socket.emit('error', { code, message });
    ack?.({ accepted: false, code, message });
  }

  function onDisconnect(this: HeraldSocket): void {
    unschedule(this);
  }

  function onAuth(this: HeraldSocket, payload: unknown, maybeAck?: unknown): void {
    authenticateAgain(this, payload, maybeAck);
  }

  function authenticateAgain(socket: HeraldSocket, payload: unknown, maybeAck: unknown): void {
    const ack = typeof maybeAck === 'function' ? (maybeAck as AuthAck) : undefined;
    if (!socket.connected || !expOf.has(socket)) return;
    const parsed = protocolEventSchemas['herald:auth'].safeParse(payload);
    if (!parsed.success) {
      refuse(
        socket,
        ack,
        HeraldErrorCode.invalidPayload,
        `Invalid herald:auth payload: ${describeIssues(toFieldIssues(parsed.error, 'payload')).slice(0, 200)}`,
      );
      return;
    }
    let identity: Identity;
    try {
      identity = options.verify(parsed.data.token);
    } catch (error) {
      const herald = toHeraldError(error);
      if (herald.code === HeraldErrorCode.internal) {
        log.error({ err: error, userId: socket.data.userId }, 'verifying an in-band token failed');
      }
      // Always invalid_token: token_expired on this socket means "you are being disconnected".
      const message =
        herald.code === HeraldErrorCode.tokenExpired
          ? 'The new access token has already expired: the current one still ends at its exp.'
          : herald.code === HeraldErrorCode.invalidToken
            ? herald.message
            : 'The new access token was refused: the current one still ends at its exp.';
      refuse(socket, ack, HeraldErrorCode.invalidToken, message);
      return;
    }
    if (identity.userId !== socket.data.userId) {
      log.warn({ userId: socket.data.userId }, 'herald:auth with a token of another user refused');
      refuse(
        socket,
        ack,
        HeraldErrorCode.invalidToken,
        'The new access token names another user: a connection keeps the user it was opened for.',
      );
      return;
    }
    schedule(socket, identity.exp);
    ack?.({ accepted: true, exp: identity.exp });
  }

  return {
    remember: (socket, exp) => {
      pending.set(socket, exp);
    },
    onConnection: (socket) => {
      const exp = pending.get(socket);
      pending.delete(socket);
      if (exp === undefined) {
        // Only the handshake middleware admits sockets, and it always remembers: a bug if reached.
        log.error({ userId: socket.data.userId }, 'a socket connected without a token expiry');
        socket.disconnect(true);
        return;
      }
      socket.on('disconnect', onDisconnect);
      socket.on('herald:auth', onAuth);
      schedule(socket, exp);
    },
    get tracked() {
      return expOf.size;
    },
    close: () => {
      warnings.close();
      expiries.close();
      expOf.clear();
    },
  };
}
