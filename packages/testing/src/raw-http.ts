import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A raw TCP connection to an HTTP server, for requests no HTTP client would send (slowloris). */
export interface RawHttpConnection {
  socket: Socket;
  /** What the server sent so far. */
  text: () => string;
  /** Resolves once the connection closed, to the milliseconds it was open. */
  closed: Promise<number>;
}

/** Opens a raw TCP connection to 127.0.0.1:`port` and collects what the server sends until it closes. */
export async function openRawHttp(port: number): Promise<RawHttpConnection> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const opened = performance.now();
  const closed = once(socket, 'close').then(() => performance.now() - opened);
  return { socket, text: () => text, closed };
}
