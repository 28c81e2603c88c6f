export { useCleanup, type Defer } from '@herald/testing';
import { once } from 'node:events';
import net from 'node:net';
import { inject } from 'vitest';
import type { DeliveryMeta, GapPayload } from '@herald/contracts';
import {
  createHeraldClient,
  type ClientErrorReport,
  type ConnectionStatus,
  type HeraldClient,
  type HeraldClientOptions,
} from '@herald/client';
import {
  closeRedis,
  createKeys,
  createRedis,
  readStreamBacklog,
  type RedisClient,
  type StreamBacklog,
} from '@herald/core';
import { createPublisher, type Publisher, type PublisherOptions } from '@herald/publisher';
import { TEST_JWT_SECRET, mintToken, spawnApp, waitFor, type AppProcess, type Defer } from '@herald/testing';

// --- Where a test's processes meet ------------------------------------------------------------

/** The Redis and key prefix every process of one test shares. */
export interface Where {
  prefix: string;
  /** @default inject('redisUrl'), the run's shared Redis */
  redisUrl?: string;
  /**
   * How the apps still alive after the test are stopped: SIGKILL (the crash tests), or
   * SIGTERM so in-flight work ends cleanly first. @default 'SIGKILL'
   */
  stopWith?: 'SIGKILL' | 'SIGTERM';
}

/** Stops `app` after the test the way `where` says (a no-op once it was killed). */
function stopLater(app: AppProcess, defer: Defer, where: Where): void {
  defer(() => app.stop(where.stopWith ?? 'SIGKILL'));
}

function urlOf(where: Where): string {
  return where.redisUrl ?? inject('redisUrl');
}

function appEnv(where: Where, env: Record<string, string>): Record<string, string> {
  return {
    REDIS_URL: urlOf(where),
    HERALD_REDIS_PREFIX: where.prefix,
    // Info: the start-up lines the helpers wait for are info lines.
    HERALD_LOG_LEVEL: 'info',
    ...env,
  };
}

/** Prints one figure line of a guarantee test, e.g. `[guarantee a] 2000 events …`. */
export function printFigures(letter: string, text: string): void {
  process.stdout.write(`[guarantee ${letter}] ${text}\n`);
}

/** `from`..`to`, inclusive. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

// --- Child processes --------------------------------------------------------------------------

export interface SpawnedNode {
  app: AppProcess;
  port: number;
  /** `http://127.0.0.1:{port}` */
  url: string;
}

/**
 * A socket node as a real child process on a free loopback port, stopped after the test
 * if still alive. Its presence TTL is 3 s unless `env` says otherwise, so the
 * users of a killed node turn offline quickly.
 */
export async function spawnSocketNode(
  defer: Defer,
  where: Where,
  env: Record<string, string> = {},
): Promise<SpawnedNode> {
  const app = spawnApp(
    'socket-node',
    appEnv(where, {
      JWT_SECRET: TEST_JWT_SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      HERALD_PRESENCE_TTL_MS: '3000',
      ...env,
    }),
  );
  stopLater(app, defer, where);
  const match = await app.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/, 60_000);
  const port = Number(match[1]);
  return { app, port, url: `http://127.0.0.1:${port}` };
}

/**
 * A dispatcher as a real child process, resolved once it is ready (its worker is
 * connected). Ack timeout 3 s unless `env` says otherwise. Stopped after the test.
 */
export async function spawnDispatcher(
  defer: Defer,
  where: Where,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const app = launchDispatcher(defer, where, env);
  await app.waitForOutput(/dispatcher ready/, 60_000);
  return app;
}

/**
 * Like `spawnDispatcher` but returns at once: its worker may take jobs before it prints
 * `dispatcher ready`, so a test that must be able to kill it mid-job needs it from the start.
 */
export function launchDispatcher(defer: Defer, where: Where, env: Record<string, string> = {}): AppProcess {
  const app = spawnApp('dispatcher', appEnv(where, { HERALD_ACK_TIMEOUT_MS: '3000', ...env }));
  stopLater(app, defer, where);
  return app;
}

/** A fallback worker as a real child process, resolved once it is ready. Stopped after the test. */
export async function spawnFallbackWorker(
  defer: Defer,
  where: Where,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const app = spawnApp('fallback-worker', appEnv(where, env));
  stopLater(app, defer, where);
  await app.waitForOutput(/fallback worker ready/, 60_000);
  return app;
}

// --- In the test process: publisher, queues, Redis ------------------------------------------------

/** A publisher on the test's prefix (the test process is the producer), closed after the test. */
export function startPublisher(
  defer: Defer,
  where: Where,
  options: Partial<PublisherOptions> = {},
): Publisher {
  const publisher = createPublisher({ redisUrl: urlOf(where), prefix: where.prefix, ...options });
  defer(() => publisher.close());
  return publisher;
}

/** A plain connection for the test's own reads, closed after the test. */
export function openRedis(defer: Defer, where: Where): RedisClient {
  const redis = createRedis(urlOf(where));
  defer(() => closeRedis(redis));
  return redis;
}

/** Reads the dispatchers' backlog on the test's prefix: entries appended, pending, whether all were delivered. */
export function backlogOf(where: Where, redis: RedisClient): () => Promise<StreamBacklog> {
  const keys = createKeys(where.prefix);
  return () => readStreamBacklog(redis, keys);
}

/**
 * Publishes rounds `from`..`to` of `xp:gained`, one event per user per round, with no
 * fallback. Within a round all users are published to at once; each user's events go
 * one after another (a round starts when the previous one resolved), so the n-th event
 * a user is sent carries `totalXp: n` and must reach its handlers n-th.
 * `afterRound` runs once a round is published (not delivered); `pauseMs` spaces rounds
 * out so the stream lasts a while (load shaping, not a wait for anything).
 */
export async function publishRounds(
  publisher: Publisher,
  users: readonly string[],
  from: number,
  to: number,
  options: { pauseMs?: number; afterRound?: (round: number) => void } = {},
): Promise<void> {
  for (let round = from; round <= to; round++) {
    await Promise.all(
      users.map((user) =>
        publisher
          .toUser(user)
          .emit('xp:gained', { amount: 1, source: `round-${round}`, totalXp: round }, { fallback: false }),
      ),
    );
    options.afterRound?.(round);
    if (options.pauseMs && round < to) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
  }
}

// --- A TCP round-robin proxy: one URL in front of several nodes -------------------------------

export interface RoundRobinProxy {
  /** `http://127.0.0.1:{port}`, for the SDK's `url`. */
  url: string;
  port: number;
  /** Connections open now, per backend port. */
  open(): Map<number, number>;
  /** Connections forwarded so far, per backend port. */
  forwarded(): Map<number, number>;
  /** The network goes away: every open connection is closed, new ones are refused until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A load balancer in miniature (node:net, no HTTP parsing): each incoming connection goes
 * to the next backend in turn; a backend that refuses the connection (a killed node) is
 * skipped for the next one. When either side closes, so does the other, as a real
 * balancer does when its backend dies. Websocket transport only: polling would need
 * sticky sessions.
 */
export async function startRoundRobinProxy(
  defer: Defer,
  backendPorts: readonly number[],
): Promise<RoundRobinProxy> {
  if (backendPorts.length === 0) throw new RangeError('startRoundRobinProxy: give at least one backend port');
  let next = 0;
  let down = false;
  const sockets = new Set<net.Socket>();
  const open = new Map<number, number>(backendPorts.map((p) => [p, 0]));
  const forwarded = new Map<number, number>(backendPorts.map((p) => [p, 0]));
  const bump = (map: Map<number, number>, port: number, by: number) =>
    map.set(port, (map.get(port) ?? 0) + by);

  /** Tries the backends in turn from `first`, each once, until one accepts. */
  const connect = (client: net.Socket, first: number, tried: number): void => {
    if (tried >= backendPorts.length || client.destroyed) {
      client.destroy();
      return;
    }
    const port = backendPorts[(first + tried) % backendPorts.length] as number;
    const upstream = net.connect({ port, host: '127.0.0.1' });
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    const refused = () => {
      upstream.destroy();
      connect(client, first, tried + 1);
    };
    upstream.once('error', refused);
    upstream.once('connect', () => {
      upstream.off('error', refused);
      if (client.destroyed || down) {
        upstream.destroy();
        return;
      }
      bump(open, port, 1);
      bump(forwarded, port, 1);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      upstream.once('close', () => {
        bump(open, port, -1);
        end();
      });
      upstream.on('error', end);
      client.once('close', end);
      // Data the client sent meanwhile waits in its (paused) stream until piped.
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };

  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    // A reset from either side must not be an unhandled 'error'.
    client.on('error', () => client.destroy());
    if (down) {
      client.destroy();
      return;
    }
    connect(client, next++, 0);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const closeAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const close = async () => {
    closeAll();
    if (!server.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  defer(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    open: () => new Map(open),
    forwarded: () => new Map(forwarded),
    cut() {
      down = true;
      closeAll();
    },
    restore() {
      down = false;
    },
    close,
  };
}

// --- Devices: SDK clients that record what their handlers saw ----------------------------------

/** One copy of one of the user's events as it arrived on the socket, before the SDK's dedupe. */
export interface WireCopy {
  seq: number;
  replayed: boolean;
}

/** An `@herald/client` instance plus everything its handlers and the wire under it saw. */
export interface RecordedDevice {
  userId: string;
  client: HeraldClient;
  /** What the `xp:gained` handler was given, in the order it was given. */
  handled: Array<{ payload: { totalXp: number }; meta: DeliveryMeta }>;
  gaps: GapPayload[];
  errors: ClientErrorReport[];
  statuses: ConnectionStatus[];
  /** Every copy of the user's events on the wire (raw `socket.onAny`), in arrival order. */
  wire: WireCopy[];
  /** Resolves once the handlers finished seq `seq`. */
  untilHandled(seq: number, timeoutMs?: number): Promise<void>;
}

/**
 * Creates an SDK client for `userId` over websocket (a fresh token per connection
 * attempt, quick reconnects) that records its `xp:gained` handler calls, gaps, errors,
 * statuses and the raw copies on the wire; closed after the test.
 */
export function startDevice(
  defer: Defer,
  url: string,
  userId: string,
  options: Partial<HeraldClientOptions> = {},
): RecordedDevice {
  const client = createHeraldClient({
    url,
    getToken: () => mintToken(userId),
    transports: ['websocket'],
    reconnectDelayMs: 200,
    reconnectDelayMaxMs: 2_000,
    // These tests run the fallback check after a second or so: ack sooner than the SDK's 1 s.
    ackDelayMs: 100,
    ...options,
  });
  defer(() => client.close());
  const device: RecordedDevice = {
    userId,
    client,
    handled: [],
    gaps: [],
    errors: [],
    statuses: [],
    wire: [],
    untilHandled: (seq, timeoutMs = 60_000) =>
      waitFor(() => client.lastSeq >= seq, {
        timeoutMs,
        intervalMs: 50,
        message: `${userId}: handlers reached seq ${seq} (at ${client.lastSeq})`,
      }).then(() => undefined),
  };
  client.on('xp:gained', (payload, meta) => void device.handled.push({ payload, meta }));
  client.onGap((gap) => void device.gaps.push(gap));
  client.onError((report) => void device.errors.push(report));
  client.onStatus((status) => void device.statuses.push(status));
  client.socket.onAny((event: string, _payload: unknown, meta?: { seq?: unknown; replayed?: unknown }) => {
    if (event === 'xp:gained' && typeof meta?.seq === 'number') {
      device.wire.push({ seq: meta.seq, replayed: meta.replayed === true });
    }
  });
  return device;
}

/** How many times `state` appears in a device's status history. */
export function countStatuses(device: RecordedDevice, state: ConnectionStatus['state']): number {
  return device.statuses.filter((s) => s.state === state).length;
}

/**
 * What is wrong with what a device's handlers saw, when they should have seen the user's
 * events 1..`count` once each, in publish order (seq n carries `totalXp: n`), with no gap
 * and no error other than lost connections. Empty when all is right.
 */
export function deliveryProblems(device: RecordedDevice, count: number): string[] {
  const problems: string[] = [];
  const seqs = device.handled.map((h) => h.meta.seq);
  const order = device.handled.map((h) => h.payload.totalXp);
  const expected = range(1, count);
  const describe = (values: unknown[]) =>
    values.length > 12 ? `${values.slice(0, 12).join(',')}… (${values.length})` : values.join(',');
  if (seqs.join() !== expected.join()) {
    const firstWrong = seqs.findIndex((s, i) => s !== i + 1);
    problems.push(
      `seqs handled: ${describe(seqs)}; first wrong at #${firstWrong + 1} (${String(seqs[firstWrong])}), ${seqs.length} handled of ${count}`,
    );
  }
  if (order.join() !== expected.join()) problems.push(`publish order handled: ${describe(order)}`);
  if (device.gaps.length > 0) problems.push(`gaps: ${JSON.stringify(device.gaps)}`);
  const errors = device.errors.filter((e) => e.source !== 'connection');
  if (errors.length > 0) {
    problems.push(
      `errors: ${errors.map((e) => `${e.source}/${e.error.code}: ${e.error.message}`).join('; ')}`,
    );
  }
  return problems.map((p) => `${device.userId}: ${p}`);
}

/** Counts over the raw copies on the wire of many devices. */
export function wireFigures(devices: readonly RecordedDevice[]): {
  /** Every copy of a user event that reached a socket. */
  copies: number;
  /** Copies that came from a replay (reconnect or `herald:sync`). */
  replayed: number;
  /** Copies of a seq the device had already received once (live or replayed): all that the SDK dropped. */
  duplicates: number;
  /** Of those, live emits of a seq the device had already received live: the dispatcher emitted it twice. */
  duplicateEmits: number;
  /** Of those, live emits of a seq the device had only received from a replay before (a late or repeated emit). */
  lateEmits: number;
  /** Of those, replayed copies of a seq the device already had. */
  replayedAgain: number;
} {
  const figures = {
    copies: 0,
    replayed: 0,
    duplicates: 0,
    duplicateEmits: 0,
    lateEmits: 0,
    replayedAgain: 0,
  };
  for (const device of devices) {
    const seen = new Set<number>();
    const seenLive = new Set<number>();
    for (const copy of device.wire) {
      figures.copies += 1;
      if (copy.replayed) figures.replayed += 1;
      if (seen.has(copy.seq)) {
        figures.duplicates += 1;
        if (copy.replayed) figures.replayedAgain += 1;
        else if (seenLive.has(copy.seq)) figures.duplicateEmits += 1;
        else figures.lateEmits += 1;
      }
      seen.add(copy.seq);
      if (!copy.replayed) seenLive.add(copy.seq);
    }
  }
  return figures;
}
