/**
 * A load process: holds many client connections to socket nodes (or to a baseline
 * server) and records, for every bench event it receives, the receive time next to
 * the publish time carried in the payload. Both clocks are this machine's
 * (`performance.timeOrigin + performance.now()`), so publish→handler latency needs
 * no clock sync. The orchestrator drives it over IPC (see `LoadClientApi`).
 */
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { mintToken } from '@herald/testing';
import { serveRpc } from './rpc.js';
import { now, type BenchPayload } from './payload.js';

export type ConnectionKind = 'herald' | 'socketio' | 'ws';

export interface ConnectArgs {
  /** `http://127.0.0.1:port` for Socket.IO kinds, `ws://127.0.0.1:port` for bare ws. */
  url: string;
  kind: ConnectionKind;
  /** One connection per entry; for `herald` each gets a token with this `sub`. */
  userIds: string[];
  /** Signs the tokens of `herald` connections. */
  jwtSecret?: string;
  /** Handshake headers (browser-like ones for the memory scenario). */
  extraHeaders?: Record<string, string>;
  /** Connections being opened at once. @default 100 */
  concurrency?: number;
  /** Tag to close or reconnect a set of connections later. */
  group: string;
  /** @default 30_000 */
  timeoutMs?: number;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  ms: number;
}

export interface PhaseReport {
  /** Receipts, duplicates included. */
  count: number;
  /** Distinct (connection, event) receipts. */
  unique: number;
  duplicates: number;
  /** Receive time minus publish time (ms) of each first receipt. */
  latencies: Float64Array;
  /** Receive time (ms since epoch, fractional) of each first receipt, same order. */
  receivedAt: Float64Array;
}

export interface ReconnectResult {
  /** Absolute time each connection got `authenticated` again. */
  readyAt: Float64Array;
  failed: number;
  errors: string[];
}

interface Connection {
  index: number;
  group: string;
  kind: ConnectionKind;
  socket?: Socket;
  ws?: WebSocket;
}

/** A growable array of doubles, so 100k receipts do not cost 100k boxed numbers. */
class DoubleList {
  private data = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

interface PhaseRecord {
  count: number;
  seen: Set<number>;
  latencies: DoubleList;
  receivedAt: DoubleList;
}

const connections: Connection[] = [];
const phases = new Map<string, PhaseRecord>();
let nextIndex = 0;
let strays = 0;
let unexpectedDisconnects = 0;

/** Event numbers stay below 2^21 per phase, so (connection, event) packs into one safe integer. */
const EVENT_SPACE = 2 ** 21;

function onEvent(connection: Connection, payload: BenchPayload): void {
  const receivedAt = now();
  const record = phases.get(payload.k);
  if (!record) {
    strays += 1;
    return;
  }
  record.count += 1;
  const key = connection.index * EVENT_SPACE + payload.s;
  if (record.seen.has(key)) return;
  record.seen.add(key);
  record.latencies.push(receivedAt - payload.timestamp);
  record.receivedAt.push(receivedAt);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function openOne(args: ConnectArgs, base: number, index: number): Promise<Connection> {
  const timeoutMs = args.timeoutMs ?? 30_000;
  // The index is final before any event can arrive: the caller numbers connections up front.
  const connection: Connection = { index: base + index, group: args.group, kind: args.kind };
  return new Promise<Connection>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const ok = () => {
      clearTimeout(timer);
      resolve(connection);
    };
    const fail = (error: unknown) => {
      clearTimeout(timer);
      connection.socket?.disconnect();
      connection.ws?.terminate();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    if (args.kind === 'ws') {
      const ws = new WebSocket(args.url, { headers: args.extraHeaders });
      connection.ws = ws;
      ws.once('open', ok);
      ws.once('error', fail);
      return;
    }
    const uid = args.userIds[index] ?? '';
    const socket = io(args.url, {
      transports: ['websocket'],
      ...(args.kind === 'herald' ? { auth: { token: mintToken(uid, { secret: args.jwtSecret }) } } : {}),
      extraHeaders: args.extraHeaders,
      reconnection: false,
      forceNew: true,
      timeout: timeoutMs,
    });
    connection.socket = socket;
    socket.on('notification:new', (payload: BenchPayload) => onEvent(connection, payload));
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') unexpectedDisconnects += 1;
    });
    socket.once(args.kind === 'herald' ? 'authenticated' : 'connect', ok);
    socket.once('connect_error', fail);
  });
}

async function connect(args: ConnectArgs): Promise<ConnectResult> {
  const started = now();
  // Numbers are handed out before the await, so two overlapping connects never share one.
  const base = nextIndex;
  nextIndex += args.userIds.length;
  const errors = new Set<string>();
  let failed = 0;
  let next = 0;
  const opened: Connection[] = [];
  const worker = async () => {
    while (next < args.userIds.length) {
      const index = next++;
      try {
        opened.push(await openOne(args, base, index));
      } catch (error) {
        failed += 1;
        if (errors.size < 5) errors.add(describe(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency ?? 100, args.userIds.length) }, worker));
  connections.push(...opened);
  return { connected: opened.length, failed, errors: [...errors], ms: now() - started };
}

function inGroup(group: string | undefined): Connection[] {
  return connections.filter((c) => group === undefined || c.group === group);
}

/** Closes connections from the client side (their sockets stay, so `reconnect` can reopen them). */
function disconnect(args: { group?: string }): { disconnected: number } {
  const list = inGroup(args.group);
  for (const c of list) {
    c.socket?.disconnect();
    c.ws?.close();
  }
  return { disconnected: list.length };
}

/** Reopens every (Socket.IO) connection of the group at once and reports when each was accepted again. */
async function reconnect(args: { group?: string; timeoutMs?: number }): Promise<ReconnectResult> {
  const list = inGroup(args.group).filter((c) => c.socket);
  const readyAt = new Float64Array(list.length).fill(Number.NaN);
  const errors = new Set<string>();
  let failed = 0;
  const timeoutMs = args.timeoutMs ?? 30_000;
  await Promise.all(
    list.map(
      (c, i) =>
        new Promise<void>((resolve) => {
          const socket = c.socket as Socket;
          const timer = setTimeout(() => {
            failed += 1;
            if (errors.size < 5) errors.add(`not accepted again within ${timeoutMs} ms`);
            done();
          }, timeoutMs);
          const onReady = () => {
            readyAt[i] = now();
            done();
          };
          const onError = (error: Error) => {
            failed += 1;
            if (errors.size < 5) errors.add(error.message);
            done();
          };
          const done = () => {
            clearTimeout(timer);
            socket.off(c.kind === 'herald' ? 'authenticated' : 'connect', onReady);
            socket.off('connect_error', onError);
            resolve();
          };
          socket.once(c.kind === 'herald' ? 'authenticated' : 'connect', onReady);
          socket.once('connect_error', onError);
          socket.connect();
        }),
    ),
  );
  return { readyAt, failed, errors: [...errors] };
}

/** Closes and forgets connections. */
function close(args: { group?: string }): { closed: number } {
  const list = inGroup(args.group);
  for (const c of list) {
    c.socket?.disconnect();
    c.ws?.terminate();
  }
  const gone = new Set(list);
  const kept = connections.filter((c) => !gone.has(c));
  connections.length = 0;
  connections.push(...kept);
  return { closed: list.length };
}

/** Starts recording receipts of phase `phase`. */
function track(args: { phase: string }): void {
  phases.set(args.phase, {
    count: 0,
    seen: new Set(),
    latencies: new DoubleList(),
    receivedAt: new DoubleList(),
  });
}

/** Distinct receipts of a phase so far (cheap; polled while waiting for delivery). */
function count(args: { phase: string }): { unique: number } {
  return { unique: phases.get(args.phase)?.seen.size ?? 0 };
}

/** Everything recorded for a phase; the record is dropped afterwards. */
function report(args: { phase: string }): PhaseReport {
  const record = phases.get(args.phase);
  phases.delete(args.phase);
  if (!record)
    return {
      count: 0,
      unique: 0,
      duplicates: 0,
      latencies: new Float64Array(),
      receivedAt: new Float64Array(),
    };
  return {
    count: record.count,
    unique: record.seen.size,
    duplicates: record.count - record.seen.size,
    latencies: record.latencies.toArray(),
    receivedAt: record.receivedAt.toArray(),
  };
}

function status() {
  return {
    connections: connections.length,
    connected: connections.filter((c) => c.socket?.connected ?? c.ws?.readyState === WebSocket.OPEN).length,
    strays,
    unexpectedDisconnects,
    memory: process.memoryUsage(),
  };
}

const api = { connect, disconnect, reconnect, close, track, count, report, status };
export type LoadClientApi = typeof api;

serveRpc(api);
