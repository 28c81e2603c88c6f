import type { HeraldSocket } from './types.js';

type Holder = Record<string, unknown> | undefined;

/** The fields trimmed, as socket.io 4.8 / engine.io 6.6 / socket.io-parser 4.2 name them. */
interface Internals {
  _anyListeners?: unknown[];
  conn: Holder;
  client: { decoder?: { _callbacks?: Holder } };
}

/** Swaps `holder[key]` for an exact-size copy when it is a non-empty array. */
function trim(holder: Holder, key: string): void {
  const value = holder?.[key];
  if (holder && Array.isArray(value) && value.length > 0) holder[key] = value.slice();
}

/**
 * Socket.IO (`onAny`), Engine.IO (its transport clean-ups) and socket.io-parser (its
 * `decoded` listeners) each keep, per connection, an array they grew by `push` from
 * `[]`, which V8 sizes for 17 elements (152 B) while it holds one or two. Each is
 * swapped for a copy of exactly its length once the socket is connected: about 0.3 KiB
 * per idle connection. The libraries read these fields afresh on every use and only
 * push, splice or shift them, so a copy behaves the same; a field a later version
 * renames is left alone (memory only).
 *
 * Register as the last `connection` listener, after every `onAny`. A polling session
 * that upgrades later refills Engine.IO's array (memory only).
 */
export function trimConnection(socket: HeraldSocket): void {
  const internals = socket as unknown as Internals;
  trim(internals as unknown as Holder, '_anyListeners');
  trim(internals.conn, 'cleanupFn');
  trim(internals.client.decoder?._callbacks, '$decoded');
}
