import { createConnection } from 'node:net';

/** Resolves true when something accepts TCP connections on 127.0.0.1:`port` (a server still up). */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
