/**
 * A baseline server for the idle-memory scenario, beside Herald's socket node in
 * the same run: `BENCH_BASELINE=ws` is a bare `ws` WebSocketServer, `socketio` a
 * Socket.IO server with its default configuration (no adapter, no auth), and
 * `socketio-lean` the same server dropping, once a socket is connected, what
 * Socket.IO keeps of the handshake by default (the upgrade request and its headers,
 * the handshake headers and auth): the saving a node could get from doing the same. All answer
 * the same `memory` call after gc.
 */
import http, { type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { writeHeapSnapshot } from 'node:v8';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Server } from 'socket.io';
import { serveRpc } from './rpc.js';
import { memoryAfterGc } from './memory-probe.js';

export const BASELINES = ['ws', 'socketio', 'socketio-lean'] as const;
export type BaselineKind = (typeof BASELINES)[number];

const kind = process.env.BENCH_BASELINE as BaselineKind;
if (!BASELINES.includes(kind)) throw new Error(`BENCH_BASELINE must be one of ${BASELINES.join(', ')}`);

const httpServer = http.createServer();
let connections: () => number;
if (kind === 'ws') {
  const wss = new WebSocketServer({ server: httpServer });
  connections = () => wss.clients.size;
} else {
  const io = new Server(httpServer);
  connections = () => io.engine.clientsCount;
  if (kind === 'socketio-lean') {
    io.engine.on('connection', (rawSocket: { request: IncomingMessage | null }) => {
      const req = rawSocket.request;
      // https://socket.io/docs/v4/memory-usage/: the first HTTP request of each session is kept by default.
      rawSocket.request = null;
      // engine.io's WebSocketResponse still holds the request until the TCP socket closes (a
      // socket.once('close') listener closes over it), so empty what makes it heavy: the headers.
      if (req) {
        req.headers = {};
        req.rawHeaders = [];
      }
    });
    io.on('connection', (socket) => {
      socket.handshake.headers = {};
      socket.handshake.auth = {};
    });
  }
}
httpServer.listen(0, '127.0.0.1');
await once(httpServer, 'listening');
const port = (httpServer.address() as AddressInfo).port;

const shutdown = () => {
  httpServer.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', shutdown);

const api = {
  port: () => port,
  memory: () => memoryAfterGc(connections),
  heapSnapshot: async (args: { file: string }) => {
    await memoryAfterGc(connections);
    return writeHeapSnapshot(args.file);
  },
};
export type BaselineApi = typeof api;
serveRpc(api, shutdown);
