import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A WebSocket client that writes whatever bytes it is told to: unmasked frames,
 * reserved opcodes, lying length fields, invalid UTF-8 in text frames. Client
 * libraries refuse to send these, which is exactly why a fuzz test needs this.
 * It reads the server's (unfragmented, unmasked) frames and keeps text messages.
 */
export interface RawWebSocket {
  /** Text messages from the server, in order (Engine.IO packets such as `0{…}`, `42[…]`). */
  messages: string[];
  /** True once the TCP connection ended, whoever ended it. */
  readonly closed: boolean;
  /** The close code the server sent, if it sent a close frame. */
  readonly closeCode: number | undefined;
  /** Resolves when the connection has ended. */
  ended: Promise<void>;
  /** One well-formed, masked text frame. */
  sendText(text: string): void;
  /** One frame built from parts, any of which may be wrong on purpose. */
  sendFrame(frame: FrameSpec): void;
  /** Bytes as they are, with no framing. */
  sendRaw(bytes: Buffer): void;
  /** Resolves with the first message (already received or future) that matches. */
  waitForMessage(match: (message: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Stops reading from the TCP connection, so the kernel's buffers fill and the server's writes back up. */
  pause(): void;
  /** Reads again: what the kernel held arrives. */
  resume(): void;
  destroy(): void;
}

export interface FrameSpec {
  opcode: number;
  payload: Buffer;
  /** @default true */
  fin?: boolean;
  /** @default true (clients must mask; false is a protocol error) */
  mask?: boolean;
  /** RSV1-3 bits, 0-7. @default 0 */
  rsv?: number;
  /** Length written in the header instead of the payload's real length. */
  declaredLength?: bigint;
}

/** Encodes one WebSocket frame as a client would (RFC 6455 §5.2), faults included. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const mask = spec.mask ?? true;
  const length = spec.declaredLength ?? BigInt(spec.payload.length);
  const head = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f)];
  let extended = Buffer.alloc(0);
  if (length < 126n) head.push(Number(length));
  else if (length < 65_536n) {
    head.push(126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length));
  } else {
    head.push(127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), extended, spec.payload]);
  head[1] = (head[1] as number) | 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(spec.payload);
  for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from(head), extended, key, masked]);
}

/**
 * Opens a WebSocket to Engine.IO at `path` (e.g. `/socket.io/?EIO=4&transport=websocket`).
 * Rejects with the HTTP status when the server does not upgrade.
 */
export function openRawWebSocket(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.once('response', (res) => {
      res.resume();
      reject(new Error(`no upgrade: HTTP ${res.statusCode}`));
    });
    req.once('error', reject);
    req.once('upgrade', (_res, socket: Socket, head: Buffer) => resolve(wrap(socket, head)));
    req.end();
  });
}

function wrap(socket: Socket, head: Buffer): RawWebSocket {
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = head;
  let closed = false;
  let closeCode: number | undefined;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // The server may reset the connection while we write garbage; that is an outcome, not a test failure.
  socket.on('error', () => undefined);
  socket.once('close', () => {
    closed = true;
    for (const wake of waiters) wake();
  });

  const write = (bytes: Buffer) => {
    if (!closed && !socket.destroyed) socket.write(bytes);
  };

  const parse = () => {
    for (;;) {
      if (buffer.length < 2) return;
      const opcode = (buffer[0] as number) & 0x0f;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 1) {
        const text = payload.toString('utf8');
        // Engine.IO pings from the server get their pong, so a raw socket lives as long as a test needs.
        if (text === '2') write(encodeFrame({ opcode: 1, payload: Buffer.from('3') }));
        messages.push(text);
        for (const wake of waiters) wake();
      } else if (opcode === 8) {
        closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
      } else if (opcode === 9) {
        write(encodeFrame({ opcode: 10, payload }));
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    parse();
  });
  parse();

  return {
    messages,
    get closed() {
      return closed;
    },
    get closeCode() {
      return closeCode;
    },
    ended,
    sendText: (text) => write(encodeFrame({ opcode: 1, payload: Buffer.from(text, 'utf8') })),
    sendFrame: (spec) => write(encodeFrame(spec)),
    sendRaw: write,
    waitForMessage(match, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (found !== undefined) done(() => resolve(found));
          else if (closed) done(() => reject(new Error('connection closed while waiting for a message')));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error('no matching message in time'))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    destroy: () => socket.destroy(),
  };
}
