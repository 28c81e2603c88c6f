/** `CORS_ORIGIN=*`: any origin, and then never with credentials. Only ever alone in the list. */
export const ANY_ORIGIN = '*';

/** An exact origin: scheme, host and optional port, nothing else (no wildcards: "*" is only ever alone). */
const EXACT_ORIGIN = /^https?:\/\/[^/\s*]+$/;

/** Checks a configured origin list; returns what is wrong with it, or undefined when it is fine. */
export function describeBadOrigins(origins: readonly string[]): string | undefined {
  if (origins.includes(ANY_ORIGIN)) {
    return origins.length === 1
      ? undefined
      : `"*" allows every origin and must be the only entry, got ${origins.join(',')}`;
  }
  const bad = origins.find((origin) => !EXACT_ORIGIN.test(origin));
  return bad === undefined
    ? undefined
    : `"${bad}" is not an exact origin such as https://app.example.com (no path, no trailing slash)`;
}

/**
 * The `cors` option of the Socket.IO server. It only shapes the headers of HTTP
 * polling responses; `createOriginCheck` is what refuses handshakes (websocket too).
 * With `*`, browsers send no cookies or HTTP auth (`credentials: false`): a page on any
 * site may connect, but only with a token it holds, never with the user's cookies.
 */
export function corsOptions(origins: readonly string[]) {
  return origins.includes(ANY_ORIGIN)
    ? { origin: ANY_ORIGIN, methods: ['GET', 'POST'], credentials: false }
    : { origin: [...origins], methods: ['GET', 'POST'], credentials: true };
}

/**
 * Builds the test each handshake's `Origin` header must pass. Allowed: no `Origin`
 * at all (non-browser clients, same-origin polling GETs), an origin in the list
 * (exact match), anything when the list is `['*']`, and the node's own origin
 * (its host equals the request's `Host`: a page served from the same address, such
 * as the local stack's demo page, is same-origin and needs no CORS_ORIGIN entry).
 */
export function createOriginCheck(origins: readonly string[]) {
  const anyOrigin = origins.includes(ANY_ORIGIN);
  const allowed = new Set(origins);
  return function isOriginAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined || anyOrigin || allowed.has(origin)) return true;
    if (!host) return false;
    try {
      return new URL(origin).host === new URL(`http://${host}`).host;
    } catch {
      // "null" (sandboxed frames, file://) and other non-URLs are never same-origin.
      return false;
    }
  };
}
