import type { ExtendedError } from 'socket.io';
import { roomChannel, withTimeout, type Logger, type RedisClient } from '@herald/core';
import { unavailableRefusal } from './redis-gate.js';
import type { HeraldSocket } from './types.js';

export interface RoomSubscriptions {
  /**
   * Handshake middleware (`io.use`, after the rooms were joined): lets the device in once
   * Redis confirmed the subscriptions of its rooms, refuses it `unavailable` when that takes
   * longer than `timeoutMs`.
   */
  awaitSubscribed: (socket: HeraldSocket, next: (error?: ExtendedError) => void) => void;
  /**
   * Resolves once Redis confirmed every subscription sent so far (at start-up: the
   * namespace's and this node's reply channel); rejects with Redis's refusal.
   */
  confirmed: () => Promise<void>;
}

export interface RoomSubscriptionsOptions {
  /** The adapter's subscriber connection. */
  sub: RedisClient;
  /** The adapter's `channelPrefix`. */
  channelPrefix: string;
  /** How long a handshake waits for its rooms' subscriptions. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * The sharded adapter in `dynamic` mode SSUBSCRIBEs to a room's channel when the room is
 * created on this node (its first socket joins) and SUNSUBSCRIBEs when its last socket
 * leaves, without awaiting either. A device let in before Redis confirmed the SSUBSCRIBE
 * could look online (presence) and read its latest seq while its room's channel is not yet
 * subscribed: an event emitted in between would reach neither the device nor its replay.
 * So the handshake waits for the replies, which ioredis resolves in order on the
 * subscriber connection.
 *
 * The adapter also drops those replies' promises: one that fails (the connection closed
 * while Redis was away, then dropped by `close()`) would be an unhandled rejection that
 * ends the process. They are observed here and logged at debug level: ioredis subscribes
 * again to every channel it holds when it reconnects.
 */
export function trackRoomSubscriptions(options: RoomSubscriptionsOptions): RoomSubscriptions {
  const { sub, channelPrefix, timeoutMs, logger: log } = options;
  const pending = new Map<string, Promise<unknown>>();
  type Command = (...channels: string[]) => Promise<unknown>;
  const commands = sub as unknown as Record<'ssubscribe' | 'sunsubscribe', Command>;

  const ssubscribe: Command = commands.ssubscribe.bind(sub);
  commands.ssubscribe = (...channels) => {
    const reply = ssubscribe(...channels);
    const settled = reply.then(
      () => undefined,
      (error: unknown) => log.debug({ err: error, channels }, 'subscribing to a room failed'),
    );
    for (const channel of channels) {
      pending.set(channel, reply);
      void settled.then(() => {
        if (pending.get(channel) === reply) pending.delete(channel);
      });
    }
    return reply;
  };
  const sunsubscribe: Command = commands.sunsubscribe.bind(sub);
  commands.sunsubscribe = (...channels) => {
    const reply = sunsubscribe(...channels);
    reply.catch((error: unknown) => log.debug({ err: error, channels }, 'unsubscribing from a room failed'));
    return reply;
  };

  return {
    confirmed: async () => {
      await Promise.all(pending.values());
    },
    awaitSubscribed: (socket, next) => {
      const replies: Array<Promise<unknown>> = [];
      for (const room of socket.rooms) {
        const reply = pending.get(roomChannel(channelPrefix, room));
        if (reply) replies.push(reply);
      }
      if (replies.length === 0) {
        next();
        return;
      }
      withTimeout(Promise.all(replies), timeoutMs, 'subscribing to the rooms').then(
        () => next(),
        (error: unknown) => {
          log.debug({ err: error, userId: socket.data.userId }, 'refusing a handshake: rooms not subscribed');
          next(unavailableRefusal());
        },
      );
    },
  };
}
