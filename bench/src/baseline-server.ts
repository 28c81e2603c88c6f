/**
 * A baseline server for the idle-memory scenario, beside Herald's socket node in
 * the same run: `BENCH_BASELINE=ws` is a bare `ws` WebSocketServer, `socketio` a
 * Socket.IO server with its default configuration (no adapter, no auth). Both
 * answer the same `memory` call after gc.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Server } from 'socket.io';
import { serveRpc } from './rpc.js';
import { memoryAfterGc } from './memory-probe.js';

const kind = process.env.BENCH_BASELINE;
if (kind !== 'ws' && kind !== 'socketio') throw new Error('BENCH_BASELINE must be ws or socketio');

const httpServer = http.createServer();
let connections: () => number;
if (kind === 'ws') {
  const wss = new WebSocketServer({ server: httpServer });
  connections = () => wss.clients.size;
} else {
  const io = new Server(httpServer);
  connections = () => io.engine.clientsCount;
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
  memory: () => memoryAfterGc(connections()),
};
export type BaselineApi = typeof api;
serveRpc(api, shutdown);
