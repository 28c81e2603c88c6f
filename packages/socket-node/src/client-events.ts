import type { RedisClient } from '@herald/core';
import type { Logger, RedisDeadline } from '@herald/core';
import {
  HeraldErrorCode,
  clientEventSchemas,
  describeIssues,
  isProtocolEventName,
  toFieldIssues,
  toHeraldError,
  type ClientEventAck,
  type ClientEventName,
} from '@herald/contracts';
import { appendClientEvent, type RedisKeys } from '@herald/core';
import type { ClientEventLimit } from './client-event-limit.js';
import type { HeraldSocket } from './types.js';

export interface ClientEventsOptions {
  redis: RedisClient;
  /**
   * Bounds the append, so the ack says `unavailable` while Redis is away. An append that
   * timed out may still land when Redis answers; client events are idempotent reports
   * (mark read, typing), so a retry does no harm.
   */
  deadline: RedisDeadline;
  keys: RedisKeys;
  nodeId: string;
  logger: Logger;
  /** Per-socket rate limit every client event goes through first; absent = no limit. */
  clientEventLimit?: ClientEventLimit;
}

type Ack = (result: ClientEventAck) => void;

function isClientEventName(event: unknown): event is ClientEventName {
  return typeof event === 'string' && Object.hasOwn(clientEventSchemas, event);
}

/**
 * Keeps a client-chosen string short enough to echo back and log. Issue descriptions get
 * more room: they are mostly our own text (an id issue states the whole grammar), and
 * only a key name the client made up can make them long.
 */
function shorten(value: unknown, max = 80): string {
  const text = String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Tells one socket that what it sent was refused: an `error` event, and the ack when it asked for one. */
function answerError(
  socket: HeraldSocket,
  ack: Ack | undefined,
  code: HeraldErrorCode,
  message: string,
): void {
  socket.emit('error', { message, code });
  ack?.({ accepted: false, code, message });
}

/**
 * Builds the one `onAny` listener every socket of a node shares. It is a plain
 * function called with `this` = the socket (Socket.IO applies any-listeners that
 * way), so a connection costs one array slot instead of a closure per event.
 *
 * Every event, known or not, first goes through the per-socket rate limit
 * (`rate_limited` over it, disconnect when flooding). Known client events are
 * then validated against the contracts and appended to the
 * client-events stream with the userId from the token; anything else gets an
 * `error` event. Nothing a client sends can make it throw.
 */
export function createClientEventListener(options: ClientEventsOptions) {
  const log = options.logger;
  const limit = options.clientEventLimit;
  const overLimit = limit
    ? `Too many events: at most ${limit.ratePerSecond} per second (bursts of ${limit.burst}); this one was dropped, slow down.`
    : '';

  /** Drops an event over the rate; a socket that keeps flooding is disconnected. */
  function refuse(socket: HeraldSocket, args: unknown[], disconnect: boolean): void {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as Ack) : undefined;
    if (!disconnect) {
      answerError(socket, ack, HeraldErrorCode.rateLimited, overLimit);
      return;
    }
    log.warn({ userId: socket.data.userId }, 'disconnecting a socket that keeps sending over the rate limit');
    answerError(
      socket,
      ack,
      HeraldErrorCode.rateLimited,
      'Too many events refused for going over the rate limit: disconnecting.',
    );
    // true: close the underlying connection too, after the error above is flushed.
    socket.disconnect(true);
  }

  async function handle(socket: HeraldSocket, event: unknown, args: unknown[]): Promise<void> {
    // Herald's own events (herald:auth, which carries a token) have their own listener
    // (token-lifetime.ts) and never reach the client-events stream.
    if (isProtocolEventName(event)) return;
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (args.pop() as Ack) : undefined;
    try {
      if (!isClientEventName(event)) {
        answerError(
          socket,
          ack,
          HeraldErrorCode.unknownEvent,
          `Unknown event "${shorten(event)}": this server accepts ${Object.keys(clientEventSchemas).join(', ')}.`,
        );
        return;
      }
      const parsed = clientEventSchemas[event].safeParse(args[0]);
      if (!parsed.success) {
        answerError(
          socket,
          ack,
          HeraldErrorCode.invalidPayload,
          `Invalid ${event} payload: ${shorten(describeIssues(toFieldIssues(parsed.error, 'payload')), 300)}`,
        );
        return;
      }
      // The userId comes from the verified token, never from what the client sent.
      await options.deadline(
        () =>
          appendClientEvent(options.redis, options.keys, {
            type: event,
            userId: socket.data.userId,
            payload: parsed.data,
            socketId: socket.id,
            nodeId: options.nodeId,
          }),
        `appending ${event}`,
      );
      ack?.({ accepted: true });
    } catch (error) {
      const context = { err: error, event: shorten(event), userId: socket.data.userId };
      if (toHeraldError(error).code === HeraldErrorCode.unavailable) {
        log.warn(context, 'client event refused: redis unavailable');
        answerError(
          socket,
          ack,
          HeraldErrorCode.unavailable,
          'The server cannot store this event right now: try again in a few seconds.',
        );
        return;
      }
      log.error(context, 'client event failed');
      answerError(
        socket,
        ack,
        HeraldErrorCode.internal,
        'The server could not take this event: try again later.',
      );
    }
  }

  return function onClientEvent(this: HeraldSocket, event: unknown, ...args: unknown[]): void {
    // Any-listeners run before Socket.IO's own "still connected?" check, and packets read
    // in the same chunk as a disconnect still arrive: nothing more from a closed socket.
    if (!this.connected) return;
    if (limit) {
      const verdict = limit.check(this.data);
      // Herald's own events (herald:auth) count toward the rate like any other, so flooding
      // them ends in a disconnect too; below that their own listener still takes them, as a
      // token refresh must not be lost to a burst of ordinary events.
      if (verdict === 'disconnect' || (verdict === 'refuse' && !isProtocolEventName(event))) {
        refuse(this, args, verdict === 'disconnect');
        return;
      }
    }
    handle(this, event, args).catch((error: unknown) =>
      log.error({ err: error }, 'client event handler failed'),
    );
  };
}
