import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HeraldServer, HeraldSocket } from './types.js';

/** Shared by every compacted handshake: frozen, so nothing can write one socket's data into all. */
const NOTHING: Readonly<Record<string, never>> = Object.freeze({});

type Handshake = HeraldSocket['handshake'];

/** A websocket upgrade's stand-in response (Engine.IO's `WebSocketResponse`). */
interface StandInResponse {
  req: IncomingMessage | null;
  socket?: Duplex;
  listenerCount?: (event: string) => number;
}

/** The listener Engine.IO's stand-in response puts on the TCP socket, as engine.io 6.6 builds it. */
const STAND_IN_CLOSE_LISTENER = '() => this.emit("close")';

/**
 * For a websocket upgrade Engine.IO hands middlewares a stand-in response that keeps
 * the request in `res.req`, and a `close` listener on the TCP socket (which only
 * re-emits `close` on the response, for middlewares like pino-http) keeps that response
 * and so the request, with all its headers, until the connection ends: about 0.5 KiB
 * besides the request. Once Engine.IO emits `headers` for the upgrade, every
 * middleware and the request check have run, so `res.req` is dropped and, when nobody
 * listens to the response's `close`, so is that listener. The request then lives on
 * only as Engine.IO's `conn.request` (a session opened by this upgrade), which
 * `dropHandshake` drops once the socket is connected.
 */
function forgetUpgradeRequests(io: HeraldServer): void {
  const standIns = new WeakMap<IncomingMessage, StandInResponse>();
  io.engine.use((req: IncomingMessage, res: ServerResponse | StandInResponse, next: () => void) => {
    // A real ServerResponse (polling) lets go of its request when it ends.
    if (!(res instanceof ServerResponse)) standIns.set(req, res);
    next();
  });
  io.engine.on('headers', (_headers: unknown, req: IncomingMessage) => {
    const res = standIns.get(req);
    if (res === undefined) return;
    standIns.delete(req);
    res.req = null;
    if (res.socket && res.listenerCount?.('close') === 0) {
      // Matched by source text: a later engine.io that builds it differently keeps it (memory only).
      const relay = res.socket
        .rawListeners('close')
        .find((l) => String((l as { listener?: unknown }).listener) === STAND_IN_CLOSE_LISTENER);
      if (relay) res.socket.removeListener('close', relay as (...args: unknown[]) => void);
    }
  });
}

/**
 * What a connected socket keeps of its handshake instead of Socket.IO's: the client's
 * address and when it connected. Headers, query and `auth` (which holds the access
 * token) are shared empty objects: Herald reads them only in the handshake middleware,
 * and `socket.data` holds what later code needs (userId, email, role).
 */
function compactHandshake(handshake: Handshake): Handshake {
  return {
    headers: NOTHING,
    query: NOTHING,
    auth: NOTHING,
    url: '',
    time: '',
    address: handshake.address,
    xdomain: handshake.xdomain,
    secure: handshake.secure,
    issued: handshake.issued,
  };
}

/**
 * Drops, for every connected socket, what Socket.IO keeps of its handshake by default
 * (https://socket.io/docs/v4/memory-usage/): the first HTTP request of the session
 * (`socket.request`, `socket.conn.request`) with its headers and cookies, and the
 * `socket.handshake` built from it, with the token in `auth`. About 2.5 KiB per idle
 * connection with browser-sized headers; issue 5 counts heap per connection.
 *
 * Runs on `connection`, so the handshake middlewares (authentication, device limit)
 * still see everything; afterwards `socket.request` is null and `socket.handshake`
 * keeps only `address`, `issued`, `secure` and `xdomain`. Call before the other
 * `connection` listeners, so none of them can capture the handshake.
 */
export function dropHandshakes(io: HeraldServer): void {
  forgetUpgradeRequests(io);
  io.on('connection', dropHandshake);
}

function dropHandshake(socket: HeraldSocket): void {
  (socket as { handshake: Handshake }).handshake = compactHandshake(socket.handshake);
  (socket.conn as { request: IncomingMessage | null }).request = null;
}
