import type { IncomingMessage } from 'node:http';
import { HeraldErrorCode } from '@herald/contracts';
import type { Logger } from '@herald/core';
import { clientAddress } from './client-address.js';
import type { HandshakeLimiter } from './handshake-limiter.js';

export interface AllowRequestOptions {
  /** Handshakes per client address; absent = no limit. */
  handshakeLimiter?: HandshakeLimiter;
  /** From `createOriginCheck`. */
  isOriginAllowed: (origin: string | undefined, host: string | undefined) => boolean;
  /** Reverse proxies in front of the node whose `X-Forwarded-For` is believed (see `clientAddress`). */
  trustedProxies: number;
  logger: Logger;
}

/**
 * Engine.IO's `allowRequest`: it runs for every new Engine.IO session, whether it
 * starts with a polling GET or directly as a websocket upgrade, before the session
 * exists and before any token is read. Later requests of a session (polling, the
 * upgrade to websocket) carry its random `sid` and were judged with its handshake.
 *
 * A refusal is HTTP 403 `{"code":4,"message":"rate_limited"}` on polling and HTTP 400
 * with the body `rate_limited` (or `origin_not_allowed`) on a websocket upgrade.
 * socket.io-client reports it as `connect_error` "xhr poll error" / "websocket error"
 * (the code is in the response body, which browsers do not expose) and keeps
 * retrying with its usual backoff, which is what a rate-limited client should do.
 */
export function createAllowRequest(options: AllowRequestOptions) {
  const log = options.logger;
  return function allowRequest(
    req: IncomingMessage,
    callback: (error: string | null | undefined, success: boolean) => void,
  ): void {
    if (options.handshakeLimiter) {
      const address = clientAddress(req, options.trustedProxies);
      if (!options.handshakeLimiter.allow(address)) {
        log.debug({ address }, 'handshake refused: over the per-address rate');
        callback(HeraldErrorCode.rateLimited, false);
        return;
      }
    }
    const { origin, host } = req.headers;
    if (!options.isOriginAllowed(origin, host)) {
      log.debug({ origin }, 'handshake refused: origin not in CORS_ORIGIN');
      callback(HeraldErrorCode.originNotAllowed, false);
      return;
    }
    callback(null, true);
  };
}
