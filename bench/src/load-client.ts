/**
 * A load process: holds many client connections to socket nodes (or to a baseline
 * server) and records, for every bench event its handlers get, the receive time next
 * to the publish time carried in the payload. Both clocks are this machine's
 * (`performance.timeOrigin + performance.now()`), so publish→handler latency needs
 * no clock sync. The orchestrator drives it over IPC (see `LoadClientApi`).
 *
 * Devices of scenarios 1, 2 and 4 are `@herald/client` instances (`sdk`), for all three
 * paths: the SDK orders Herald's events by seq, replays from its cursor and acks; events
 * without a seq (ceiling, naive) it hands on at once, dropping repeats by id. Latency is
 * taken in the SDK's handler, so it includes whatever the SDK holds an event back for.
 */
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { createHeraldClient, type ClientErrorSource, type HeraldClient } from '@herald/client';
import { mintToken } from '@herald/testing';
import { serveRpc } from './rpc.js';
import { BENCH_EVENT, benchEmail, now, type BenchPayload } from './payload.js';

/**
 * `sdk`: an `@herald/client` (a device as apps build it); `herald`: a plain socket.io-client
 * with a token (scenario 3, where the server's heap is measured with the baselines' client);
 * `socketio` and `ws`: the baselines' clients.
 */
export type ConnectionKind = 'sdk' | 'herald' | 'socketio' | 'ws';

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
  /** `ackDelayMs` of `sdk` connections. @default the SDK's */
  ackDelayMs?: number;
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
  /** Receipts whose seq was not above the previous seq the same connection's handler got (SDK kinds). */
  outOfOrder: number;
  /** Receipts marked `replayed` (sent from the inbox after a reconnect or a sync). */
  replayed: number;
  /** `herald:ack` packets the SDK clients of this process sent while the phase was tracked. */
  acksSent: number;
  /** `herald:sync` requests sent while the phase was tracked. */
  syncsSent: number;
  /** Receive time minus publish time (ms) of each first receipt. */
  latencies: Float64Array;
  /** Receive time (ms since epoch, fractional) of each first receipt, same order. */
  receivedAt: Float64Array;
  /** The event number (`payload.s`) of each first receipt, same order. */
  events: Float64Array;
  /** With `track({ perConnection: true })`: each connection's last first receipt (ms since epoch). */
  lastPerConnection: Float64Array;
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
  client?: HeraldClient;
  /** The last seq the handler got on this connection (0 before any). */
  lastSeq: number;
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
  outOfOrder: number;
  replayed: number;
  acksAtStart: number;
  syncsAtStart: number;
  latencies: DoubleList;
  receivedAt: DoubleList;
  events: DoubleList;
  lastPerConnection: Map<number, number> | undefined;
}

const connections: Connection[] = [];
const phases = new Map<string, PhaseRecord>();
let nextIndex = 0;
let strays = 0;
let unexpectedDisconnects = 0;
let acksSent = 0;
let syncsSent = 0;
/** What the SDK clients reported through `onError`, by source. */
const sdkErrors: Partial<Record<ClientErrorSource, number>> = {};
const sdkErrorSamples = new Set<string>();

/** How long an SDK device reuses its token (minted for an hour; the run is bounded well below). */
const TOKEN_REUSE_MS = 30 * 60_000;

/** Event numbers stay below 2^21 per phase, so (connection, event) packs into one safe integer. */
const EVENT_SPACE = 2 ** 21;

/** The part of Herald's delivery metadata the bench reads (absent for the plain clients). */
interface Meta {
  seq?: number;
  replayed?: boolean;
}

function onEvent(connection: Connection, payload: BenchPayload, meta?: Meta): void {
  const receivedAt = now();
  const record = phases.get(payload.k);
  let regressed = false;
  if (meta?.seq !== undefined) {
    regressed = meta.seq <= connection.lastSeq;
    if (!regressed) connection.lastSeq = meta.seq;
  }
  if (!record) {
    strays += 1;
    return;
  }
  record.count += 1;
  if (regressed) record.outOfOrder += 1;
  if (meta?.replayed) record.replayed += 1;
  const key = connection.index * EVENT_SPACE + payload.s;
  if (record.seen.has(key)) return;
  record.seen.add(key);
  record.latencies.push(receivedAt - payload.timestamp);
  record.receivedAt.push(receivedAt);
  record.events.push(payload.s);
  record.lastPerConnection?.set(connection.index, receivedAt);
}

function onSdkError(source: ClientErrorSource, message: string): void {
  sdkErrors[source] = (sdkErrors[source] ?? 0) + 1;
  if (sdkErrorSamples.size < 10) sdkErrorSamples.add(`${source}: ${message}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function openOne(args: ConnectArgs, base: number, index: number): Promise<Connection> {
  const timeoutMs = args.timeoutMs ?? 30_000;
  // The index is final before any event can arrive: the caller numbers connections up front.
  const connection: Connection = { index: base + index, group: args.group, kind: args.kind, lastSeq: 0 };
  return new Promise<Connection>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const ok = () => {
      clearTimeout(timer);
      resolve(connection);
    };
    const fail = (error: unknown) => {
      clearTimeout(timer);
      connection.client?.close();
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
    if (args.kind === 'sdk') {
      // An app's getToken() returns the token it holds and fetches a new one only near expiry.
      // Minting one costs ~2 ms of CPU here (jsonwebtoken first tries the secret as a PEM key),
      // which would serialize a storm of 1,000 reconnects per load process behind ~2 s of signing.
      let token = { value: '', until: 0 };
      const getToken = () => {
        if (Date.now() >= token.until) {
          // With an email claim, as the original module's tokens have: the node remembers the
          // address, so an event this device never acks can be emailed.
          const value = mintToken(uid, { secret: args.jwtSecret, email: benchEmail(uid) });
          token = { value, until: Date.now() + TOKEN_REUSE_MS };
        }
        return token.value;
      };
      const client = createHeraldClient({
        url: args.url,
        getToken,
        transports: ['websocket'],
        ...(args.ackDelayMs === undefined ? {} : { ackDelayMs: args.ackDelayMs }),
        socketOptions: { extraHeaders: args.extraHeaders, timeout: timeoutMs },
      });
      connection.client = client;
      client.on(BENCH_EVENT, (payload, meta) => onEvent(connection, payload as BenchPayload, meta));
      client.onError(({ source, error }) => onSdkError(source, error.message));
      client.socket.onAnyOutgoing((event: string) => {
        if (event === 'herald:ack') acksSent += 1;
        else if (event === 'herald:sync') syncsSent += 1;
      });
      client.socket.on('disconnect', (reason) => {
        if (reason !== 'io client disconnect') unexpectedDisconnects += 1;
      });
      // The SDK keeps retrying a refused handshake; the bench gives up after timeoutMs and says why.
      let lastError = '';
      client.onStatus((status) => {
        if (status.state === 'disconnected') lastError = status.reason;
      });
      clearTimeout(timer);
      const sdkTimer = setTimeout(() => {
        client.close();
        reject(new Error(`no connection within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}`));
      }, timeoutMs);
      client.ready.then(
        () => {
          clearTimeout(sdkTimer);
          resolve(connection);
        },
        (error: unknown) => {
          clearTimeout(sdkTimer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
      return;
    }
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

/**
 * Drops connections from the client side; `reconnect` reopens them. An SDK client's socket
 * is disconnected under it (as a lost network would), so the client keeps its in-memory
 * cursor and sends it with the next handshake; `close()` would end the client for good.
 */
function disconnect(args: { group?: string }): { disconnected: number } {
  const list = inGroup(args.group);
  for (const c of list) {
    (c.client?.socket ?? c.socket)?.disconnect();
    c.ws?.close();
  }
  return { disconnected: list.length };
}

/** Resolves `ready` when the connection is accepted again; `fail` on a refused or failed one. */
function whenAccepted(c: Connection, ready: () => void, fail: (error: Error) => void): () => void {
  if (c.client) {
    const client = c.client;
    // The SDK reports `connected` on the node's `authenticated`, before any replayed event.
    const offStatus = client.onStatus((status) => {
      if (status.state === 'connected') ready();
    });
    const onError = (error: Error) => fail(error);
    client.socket.once('connect_error', onError);
    return () => {
      offStatus();
      client.socket.off('connect_error', onError);
    };
  }
  const socket = c.socket as Socket;
  const event = c.kind === 'herald' ? 'authenticated' : 'connect';
  socket.once(event, ready);
  socket.once('connect_error', fail);
  return () => {
    socket.off(event, ready);
    socket.off('connect_error', fail);
  };
}

/** Reopens every (Socket.IO or SDK) connection of the group at once and reports when each was accepted again. */
async function reconnect(args: { group?: string; timeoutMs?: number }): Promise<ReconnectResult> {
  const list = inGroup(args.group).filter((c) => c.socket ?? c.client);
  const readyAt = new Float64Array(list.length).fill(Number.NaN);
  const errors = new Set<string>();
  let failed = 0;
  const timeoutMs = args.timeoutMs ?? 30_000;
  const waits = list.map(
    (c, i) =>
      new Promise<void>((resolve) => {
        let settled = false;
        const done = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          off();
          resolve();
        };
        const timer = setTimeout(() => {
          failed += 1;
          if (errors.size < 5) errors.add(`not accepted again within ${timeoutMs} ms`);
          done();
        }, timeoutMs);
        const off = whenAccepted(
          c,
          () => {
            readyAt[i] = now();
            done();
          },
          (error) => {
            failed += 1;
            if (errors.size < 5) errors.add(error.message);
            done();
          },
        );
      }),
  );
  // Every listener is in place before the first connect goes out: all of them leave in one tick.
  for (const c of list) (c.client?.socket ?? c.socket)?.connect();
  await Promise.all(waits);
  return { readyAt, failed, errors: [...errors] };
}

/** Closes and forgets connections. */
function close(args: { group?: string }): { closed: number } {
  const list = inGroup(args.group);
  for (const c of list) {
    c.client?.close();
    c.socket?.disconnect();
    c.ws?.terminate();
  }
  const gone = new Set(list);
  const kept = connections.filter((c) => !gone.has(c));
  connections.length = 0;
  connections.push(...kept);
  return { closed: list.length };
}

/**
 * Starts recording receipts of phase `phase`; with `perConnection`, also each connection's
 * last receipt (when each device had everything, in the reconnect storm).
 */
function track(args: { phase: string; perConnection?: boolean }): void {
  phases.set(args.phase, {
    count: 0,
    seen: new Set(),
    outOfOrder: 0,
    replayed: 0,
    acksAtStart: acksSent,
    syncsAtStart: syncsSent,
    latencies: new DoubleList(),
    receivedAt: new DoubleList(),
    events: new DoubleList(),
    lastPerConnection: args.perConnection ? new Map() : undefined,
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
      outOfOrder: 0,
      replayed: 0,
      acksSent: 0,
      syncsSent: 0,
      latencies: new Float64Array(),
      receivedAt: new Float64Array(),
      events: new Float64Array(),
      lastPerConnection: new Float64Array(),
    };
  return {
    count: record.count,
    unique: record.seen.size,
    duplicates: record.count - record.seen.size,
    outOfOrder: record.outOfOrder,
    replayed: record.replayed,
    acksSent: acksSent - record.acksAtStart,
    syncsSent: syncsSent - record.syncsAtStart,
    latencies: record.latencies.toArray(),
    receivedAt: record.receivedAt.toArray(),
    events: record.events.toArray(),
    lastPerConnection: Float64Array.from(record.lastPerConnection?.values() ?? []),
  };
}

function isConnected(c: Connection): boolean {
  if (c.client) return c.client.status.state === 'connected';
  return c.socket?.connected ?? c.ws?.readyState === WebSocket.OPEN;
}

function status() {
  return {
    connections: connections.length,
    connected: connections.filter(isConnected).length,
    strays,
    unexpectedDisconnects,
    acksSent,
    syncsSent,
    sdkErrors: { ...sdkErrors },
    sdkErrorSamples: [...sdkErrorSamples],
    memory: process.memoryUsage(),
  };
}

const api = { connect, disconnect, reconnect, close, track, count, report, status };
export type LoadClientApi = typeof api;

// Exit through process.exit, so a run with BENCH_CPU_PROF_DIR writes this process's profile.
process.on('SIGTERM', () => process.exit(0));
serveRpc(api);
