import type { ExtendedError } from 'socket.io';
import { HeraldErrorCode, toHeraldError } from '@herald/contracts';
import type { Logger, RedisClient, RedisDeadline } from '@herald/core';
import { refusal } from './authenticate.js';
import type { HeraldSocket } from './types.js';

export interface RedisGateOptions {
  /** The subscriber connection of the adapter: while it is down, this node hears no emit. */
  sub: RedisClient;
  /** The command connection, which presence, the inbox and the client-events stream use. */
  redis: RedisClient;
  /** Bounds the PING on `redis` (`createRedisDeadline(redis, timeoutMs)`). */
  deadline: RedisDeadline;
  logger: Logger;
}

/** The `connect_error` of a handshake refused because Redis cannot answer. */
export function unavailableRefusal(): ExtendedError {
  return refusal(
    HeraldErrorCode.unavailable,
    'The server cannot reach its store right now: try again in a few seconds.',
  );
}

/**
 * Handshake middleware (`io.use`, after authentication) that refuses a device with
 * `connect_error` `unavailable` while Redis cannot answer, within the Redis deadline.
 *
 * Without it a handshake during an outage hangs: the connections wait for Redis forever
 * (`maxRetriesPerRequest: null`), so the device-limit count and the welcome never
 * answer. And a device let in then would look offline to the dispatcher (no presence
 * entry) and miss live events (no subscription), with nothing to tell it so. Refused, it
 * retries (the SDK backs off) and lands here or on another node once Redis is back.
 *
 * The subscriber is checked by its status only (no round trip); the command connection
 * must answer a PING within the deadline, so a Redis that holds the TCP connection but
 * does not answer is caught too, not only one whose connection dropped.
 */
export function createRedisGate(options: RedisGateOptions) {
  const log = options.logger;
  // One PING answers every handshake that arrives while it is in flight: a reconnect storm
  // of thousands of devices costs Redis a few PINGs, not one each.
  let inFlight: Promise<unknown> | undefined;
  const ping = () =>
    (inFlight ??= options
      .deadline(() => options.redis.ping(), 'handshake')
      .finally(() => {
        inFlight = undefined;
      }));

  return function redisGate(socket: HeraldSocket, next: (error?: ExtendedError) => void): void {
    // Refusals are debug lines: in an outage every device retries every few seconds, and
    // the connections' own errors already say at warn that Redis is gone.
    if (options.sub.status !== 'ready') {
      log.debug(
        { userId: socket.data.userId, subscriber: options.sub.status },
        'refusing a handshake: redis subscription down',
      );
      next(unavailableRefusal());
      return;
    }
    ping().then(
      () => next(),
      (error: unknown) => {
        const herald = toHeraldError(error);
        log.debug({ err: herald, userId: socket.data.userId }, 'refusing a handshake: redis unavailable');
        next(unavailableRefusal());
      },
    );
  };
}
