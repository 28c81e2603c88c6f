import type { ServerOptions } from 'node:http';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';

/** How long a client may take to send a request's headers, by default. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** How long a client may take to send a whole request (headers and body), by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface HttpTimeoutOptions {
  /**
   * How long a client may take to send a request's headers, in milliseconds; then it gets
   * `408` and the connection is closed (a slowloris client trickling header lines holds a
   * socket no longer than this, plus up to a second of checking interval).
   * @default 10_000
   */
  headersTimeoutMs?: number;
  /**
   * How long a client may take to send a whole request, headers and body, in
   * milliseconds; then `408` and the connection is closed. At least `headersTimeoutMs`.
   * @default 30_000
   */
  requestTimeoutMs?: number;
}

/**
 * Node's `http.createServer` options for the timeouts, checked (`who` names the caller in
 * the error). Node checks both timeouts on `connectionsCheckingInterval`, 30 s by default,
 * so a slow client could outlive `headersTimeout` by that much: it is a quarter of the
 * headers timeout here, at most a second.
 */
export function httpTimeouts(options: HttpTimeoutOptions, who: string): ServerOptions {
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(headersTimeout) || headersTimeout < 10 || headersTimeout > 600_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `${who}: headersTimeoutMs must be an integer from 10 to 600000; got ${String(headersTimeout)}`,
    );
  }
  if (!Number.isInteger(requestTimeout) || requestTimeout < headersTimeout || requestTimeout > 3_600_000) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `${who}: requestTimeoutMs must be an integer from headersTimeoutMs (${headersTimeout}) to 3600000; got ${String(requestTimeout)}`,
    );
  }
  return {
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.max(5, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
}
