import type { SocketData } from '@herald/contracts';
import { TokenBucket } from './token-bucket.js';

export interface ClientEventLimitOptions {
  /** Client events a socket may send per second, sustained. @default 20 */
  ratePerSecond?: number;
  /** Client events a socket may send at once after a quiet spell. @default 40 */
  burst?: number;
  /**
   * Refused events a socket may collect before it is disconnected. The count drains
   * by a tenth of this per second, so with 100: a burst of more than 100 refused
   * events, or refusals sustained above 10 per second for about 10 s, disconnect it.
   * 0 never disconnects (events over the rate are still refused). @default 100
   */
  disconnectAfter?: number;
}

/** What to do with one client event. */
export type ClientEventVerdict = 'accept' | 'refuse' | 'disconnect';

/**
 * The limiter's whole per-socket state: two numbers on `socket.data` (each a
 * `TokenBucket` state), no object and no timer per socket, because a later
 * issue measures heap per idle connection. Absent until the first event.
 */
interface LimitState {
  eventBucket?: number;
  refusalBucket?: number;
}

/** Over this window the refusal count drains completely (see `disconnectAfter`). */
const REFUSAL_DRAIN_SECONDS = 10;

export const DEFAULT_CLIENT_EVENT_RATE = 20;
export const DEFAULT_CLIENT_EVENT_BURST = 40;
export const DEFAULT_RATE_LIMIT_DISCONNECT_AFTER = 100;

/** The limit a client is told about when it goes over it. */
export interface ClientEventLimit {
  ratePerSecond: number;
  burst: number;
  /** Judges one event of the socket whose `socket.data` this is, and records it. */
  check(data: SocketData, now?: number): ClientEventVerdict;
}

/**
 * Per-socket rate limit on client events: a token bucket (default 20/s, burst 40)
 * every client event goes through, known or not, so unknown names cannot be used
 * to flood the node either. A refused event costs the client nothing in the event
 * bucket (a client slightly over the rate still gets the allowed share through),
 * but it counts in a second bucket of refusals; when that one runs dry the client
 * is flooding and `check` says `disconnect`.
 *
 * @example
 * const limit = createClientEventLimit({ ratePerSecond: 20, burst: 40 });
 * if (limit.check(socket.data) !== 'accept') return refuse();
 */
export function createClientEventLimit(options: ClientEventLimitOptions = {}): ClientEventLimit {
  const events = new TokenBucket({
    ratePerSecond: options.ratePerSecond ?? DEFAULT_CLIENT_EVENT_RATE,
    burst: options.burst ?? DEFAULT_CLIENT_EVENT_BURST,
    name: 'SocketNodeOptions.clientEventRate/clientEventBurst',
  });
  const disconnectAfter = options.disconnectAfter ?? DEFAULT_RATE_LIMIT_DISCONNECT_AFTER;
  if (!Number.isInteger(disconnectAfter) || disconnectAfter < 0) {
    throw new RangeError(
      `SocketNodeOptions.rateLimitDisconnectAfter must be an integer >= 0 (0 = never), got ${disconnectAfter}`,
    );
  }
  const refusals =
    disconnectAfter > 0
      ? new TokenBucket({ ratePerSecond: disconnectAfter / REFUSAL_DRAIN_SECONDS, burst: disconnectAfter })
      : undefined;

  return {
    ratePerSecond: events.ratePerSecond,
    burst: events.burst,
    check(data: SocketData, now = performance.now()): ClientEventVerdict {
      const state = data as SocketData & LimitState;
      const taken = events.take(state.eventBucket, now);
      if (taken !== undefined) {
        state.eventBucket = taken;
        return 'accept';
      }
      if (!refusals) return 'refuse';
      const refused = refusals.take(state.refusalBucket, now);
      if (refused === undefined) return 'disconnect';
      state.refusalBucket = refused;
      return 'refuse';
    },
  };
}
