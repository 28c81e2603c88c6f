import type { EventEmitter } from 'node:events';
import type { Socket as NetSocket } from 'node:net';
import type { Logger } from '@herald/core';
import type { HeraldSocket } from './types.js';

/** As Centrifugo's `client_queue_max_size` and ws-based servers: 1 MiB per connection. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1_048_576;
/** Below this a single large event (payloads go up to 64 KiB) could cut a healthy device. */
export const MIN_MAX_BUFFERED_BYTES = 65_536;
/** What the log says when a socket is cut for reading too slowly. */
export const SLOW_CONSUMER = 'slow_consumer';

export interface BufferedBytesCapOptions {
  /** Bytes one connection may have waiting on this node before it is cut. @default 1_048_576 */
  maxBufferedBytes?: number;
  logger: Logger;
}

/** An Engine.IO packet as `packetCreate` and `flush` hand it out (engine.io 6.6). */
interface EnginePacket {
  data?: string | Buffer;
}

/** The parts of an Engine.IO socket and transport this module reads (engine.io 6.6, ws 8). */
interface EngineSocket extends EventEmitter {
  writeBuffer: EnginePacket[];
  transport: EventEmitter & {
    name: string;
    writable: boolean;
    /** websocket: the `ws` WebSocket. */
    socket?: { terminate(): void };
    /** polling: the pending GET's response, set while a GET waits. */
    res?: { socket: NetSocket | null } | null;
  };
  close(discard?: boolean): void;
}

/** What a connection has waiting on this node, in bytes of its encoded packets. */
interface Meter {
  userId: string;
  /** Packets in Engine.IO's `writeBuffer`, not handed to the transport yet. */
  queued: number;
  /**
   * The last batch handed to the transport, until the transport is writable again:
   * websocket, when `ws` has written it all to the kernel (the rest waits in the
   * net.Socket's buffer); polling, when the client comes back with its next GET, which it
   * does only after reading the whole response.
   */
  inFlight: number;
  /** polling: the connection of the GET that carries `inFlight`, to cut it too. */
  pollSocket?: NetSocket | null;
  cut: boolean;
}

const sizeOf = (packet: EnginePacket): number =>
  typeof packet.data === 'string' ? Buffer.byteLength(packet.data) : (packet.data?.byteLength ?? 0);

/**
 * Caps what one connection may have buffered on this node (`maxBufferedBytes`) and cuts
 * it, logged as `slow_consumer`, the moment a packet takes it over. Nothing is lost: the
 * device replays from its cursor when it reconnects.
 *
 * Where the bytes wait, in socket.io 4.8 / engine.io 6.6 / ws 8, for a client that does not
 * read: the kernel's socket buffers fill first (not this process's memory); then the
 * websocket transport's last batch waits in the net.Socket's write buffer (`ws` calls back
 * only once the kernel took it), and the transport stays unwritable, so every later packet
 * piles up in the Engine.IO socket's `writeBuffer`. A polling client gets everything
 * queued in one GET response, whose bytes wait in that connection's net.Socket, and
 * packets pile up in `writeBuffer` until its next GET. Nothing in those libraries bounds
 * either, so the heartbeat was the only limit (issue: 77 MB held for 76 s).
 *
 * Counting happens on Engine.IO's `packetCreate` and `flush` events, so no scan of the
 * buffer: O(1) per packet. A packet's size is that of its encoded text (a broadcast's
 * text is shared by every socket it goes to, so this counts each socket's share in full).
 *
 * A polling client holds, by design, everything sent to it between two of its GETs: one
 * that is sent more than the cap per round trip is cut although it reads. Devices that
 * receive that much belong on websocket, where only what the kernel does not take waits.
 *
 * The cut destroys the TCP connection at once (websocket: `terminate()`; polling: the
 * pending response's connection) rather than closing politely, since a close frame would
 * queue behind the data that is not moving and `ws` waits 30 s for it, then ends the
 * Engine.IO session without waiting for its buffer to drain.
 */
export function createBufferedBytesCap(options: BufferedBytesCapOptions) {
  const max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  if (!Number.isInteger(max) || max < MIN_MAX_BUFFERED_BYTES) {
    throw new RangeError(
      `maxBufferedBytes must be an integer >= ${MIN_MAX_BUFFERED_BYTES} (or 0 for no cap), got ${max}`,
    );
  }
  const log = options.logger;
  // Keyed by the Engine.IO socket, so the listeners below are shared and a meter goes with its connection.
  const meters = new WeakMap<EngineSocket, Meter>();

  function cut(conn: EngineSocket, meter: Meter, bufferedBytes: number): void {
    meter.cut = true;
    const transport = conn.transport.name;
    log.warn(
      { userId: meter.userId, bufferedBytes, maxBufferedBytes: max, transport, reason: SLOW_CONSUMER },
      'disconnecting a slow consumer: too many bytes waiting for it',
    );
    // Frees what waits in the net.Socket now; the Engine.IO session closes on the next tick,
    // outside the emit (or broadcast) that is running.
    if (transport === 'websocket') conn.transport.socket?.terminate();
    else meter.pollSocket?.destroy();
    process.nextTick(() => conn.close(true));
  }

  function onPacketCreate(this: EngineSocket, packet: EnginePacket): void {
    const meter = meters.get(this);
    if (meter === undefined || meter.cut) return;
    // Writable again means the last batch left this process (or the client asked for more).
    if (this.transport.writable) meter.inFlight = 0;
    meter.queued += sizeOf(packet);
    const buffered = meter.queued + meter.inFlight;
    if (buffered > max) cut(this, meter, buffered);
  }

  function onFlush(this: EngineSocket): void {
    const meter = meters.get(this);
    if (meter === undefined) return;
    // Everything queued goes to the transport now; a flush happens only on a writable one.
    meter.inFlight = meter.queued;
    meter.queued = 0;
    meter.pollSocket = this.transport.name === 'polling' ? this.transport.res?.socket : undefined;
  }

  return {
    maxBufferedBytes: max,
    /** A `connection` listener: meters the socket's Engine.IO connection from now on. */
    onConnection(this: void, socket: HeraldSocket): void {
      const conn = socket.conn as unknown as EngineSocket;
      meters.set(conn, {
        userId: socket.data.userId,
        queued: conn.writeBuffer.reduce((sum, packet) => sum + sizeOf(packet), 0),
        inFlight: 0,
        cut: false,
      });
      conn.on('packetCreate', onPacketCreate);
      conn.on('flush', onFlush);
    },
  };
}

/** How often `whenSent` looks again; only sockets in the middle of a replay are watched. */
const SENT_POLL_MS = 10;

/**
 * Resolves true once everything emitted to `socket` so far has left this process (Engine.IO's
 * buffer is empty and its transport is writable again: websocket, `ws` handed it all to
 * the kernel; polling, the client came back for more), or false if the socket disconnects
 * first. A bulk sender (replay) awaits it between chunks, so a large backlog to a healthy
 * device never sits in memory at once, and does not trip the buffered-bytes cap.
 */
export async function whenSent(socket: HeraldSocket): Promise<boolean> {
  const conn = socket.conn as unknown as EngineSocket;
  while (socket.connected) {
    if (conn.writeBuffer.length === 0 && conn.transport.writable) return true;
    await new Promise((resolve) => setTimeout(resolve, SENT_POLL_MS));
  }
  return false;
}
