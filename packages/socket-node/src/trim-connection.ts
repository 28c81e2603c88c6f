import type { EventEmitter } from 'node:events';
import type { HeraldSocket } from './types.js';

type Holder = Record<string, unknown> | undefined;

/** The fields trimmed, as socket.io 4.8 / engine.io 6.6 / socket.io-parser 4.2 name them. */
interface Internals {
  _anyListeners?: unknown[];
  conn: Record<string, unknown> & { transport?: Transport };
  client: { decoder?: { _callbacks?: Holder } };
}

/** Engine.IO's transport of a connection; `socket` is the `ws` WebSocket of a websocket one. */
interface Transport extends EventEmitter {
  name: string;
  socket?: EventEmitter;
}

/**
 * Listeners Engine.IO leaves on a websocket session that never run again: the handshake's
 * `headers` relay (only polling transports emit `headers`) and `onUpgradeError` on the
 * `ws` socket, which Engine.IO itself removes when a polling session upgrades but not
 * when a session starts on websocket; the transport's own `error` listener stays. About
 * 0.25 KiB per connection with their closures and listener arrays.
 */
function dropSpentListeners(transport: Transport | undefined): void {
  if (transport?.name !== 'websocket') return;
  transport.removeAllListeners('headers');
  const ws = transport.socket;
  const spent = ws?.listeners('error').find((l) => l.name === 'onUpgradeError');
  if (ws && spent && ws.listenerCount('error') > 1) ws.removeListener('error', spent as () => void);
}

/** Swaps `holder[key]` for an exact-size copy when it is a non-empty array. */
function trim(holder: Holder, key: string): void {
  const value = holder?.[key];
  if (holder && Array.isArray(value) && value.length > 0) holder[key] = value.slice();
}

/**
 * Shrinks what the libraries keep per connection once a socket is connected (issue 5
 * counts heap per idle connection), changing no behaviour:
 *
 * - Socket.IO (`onAny`), Engine.IO (its transport clean-ups) and socket.io-parser (its
 *   `decoded` listeners) each keep an array they grew by `push` from `[]`, which V8
 *   sizes for 17 elements (152 B) while it holds one or two. Each is swapped for a copy
 *   of exactly its length (about 0.3 KiB). The libraries read these fields afresh on
 *   every use and only push, splice or shift them, so a copy behaves the same.
 * - Engine.IO's spent listeners on a websocket session go (see `dropSpentListeners`).
 *
 * A field a later version renames is left alone (memory only). Register as the last
 * `connection` listener, after every `onAny`. A polling session that upgrades later
 * refills Engine.IO's array (memory only).
 */
export function trimConnection(socket: HeraldSocket): void {
  const internals = socket as unknown as Internals;
  trim(internals as unknown as Holder, '_anyListeners');
  trim(internals.conn, 'cleanupFn');
  trim(internals.client.decoder?._callbacks, '$decoded');
  dropSpentListeners(internals.conn.transport);
  for (const emitter of [socket, internals.conn, internals.conn.transport, internals.conn.transport?.socket])
    compactListenerTable(emitter);
}

/**
 * An EventEmitter keeps its listeners in `_events`, a null-prototype object V8 stores
 * as a hash table (160 to 300 B here); the same few keys in a fast-mode object take a
 * fraction of that. Node's own streams preset `_events` as a fast object for the same
 * reason. Only the representation changes: same keys, same arrays, null prototype.
 */
function compactListenerTable(emitter: unknown): void {
  const holder = emitter as { _events?: unknown } | undefined;
  const events = holder?._events;
  if (holder && typeof events === 'object' && events !== null && Object.getPrototypeOf(events) === null)
    holder._events = Object.setPrototypeOf({ ...events }, null);
}
