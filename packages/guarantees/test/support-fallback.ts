/**
 * Helpers of the tests of fallback, Redis restarts, gaps and republishes (c, d, f, g, h):
 * Herald's apps as real child processes, SDK clients that record what their handlers saw,
 * and an SMTP server whose replies the test can hold back.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Queue } from 'bullmq';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  type DeliveryMeta,
  type FallbackJobData,
  type GapPayload,
} from '@herald/contracts';
import {
  createHeraldClient,
  type ClientErrorReport,
  type ConnectionStatus,
  type HeraldClient,
  type HeraldClientOptions,
} from '@herald/client';
import { inject } from 'vitest';
import {
  DEFAULT_PRESENCE_TTL_MS,
  closeRedis,
  createKeys,
  createRedis,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';
import {
  mintToken,
  startSmtpSink,
  uniquePrefix,
  waitFor,
  type AppProcess,
  type Defer,
  type MintTokenOptions,
  type SmtpSink,
} from '@herald/testing';

import {
  spawnDispatcher as spawnDispatcherApp,
  spawnFallbackWorker as spawnWorker,
  spawnSocketNode as spawnNode,
  type Where,
} from './support.js';

export { useCleanup, type Defer } from '@herald/testing';
export { range } from './support.js';

// --- Apps as child processes ------------------------------------------------------------

/** Where every app of one test finds its Redis and keys. */
export interface AppTarget {
  redisUrl: string;
  prefix: string;
}

/**
 * These tests stop their apps with SIGTERM (in-flight work ends cleanly) and run them with
 * the apps' own presence TTL and ack timeout unless a test says otherwise, where the crash
 * tests' helpers use SIGKILL and 3 s.
 */
function whereOf(target: AppTarget): Where {
  return { ...target, stopWith: 'SIGTERM' };
}

/** A socket node child process on a free port; resolves once it listens. */
export async function spawnSocketNode(
  target: AppTarget,
  defer: Defer,
  env: Record<string, string> = {},
): Promise<{ app: AppProcess; url: string }> {
  const { app, url } = await spawnNode(defer, whereOf(target), {
    HERALD_PRESENCE_TTL_MS: String(DEFAULT_PRESENCE_TTL_MS),
    ...env,
  });
  return { app, url };
}

/** A dispatcher child process; resolves once its worker is ready. */
export function spawnDispatcher(
  target: AppTarget,
  defer: Defer,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  return spawnDispatcherApp(defer, whereOf(target), {
    HERALD_ACK_TIMEOUT_MS: String(DEFAULT_ACK_TIMEOUT_MS),
    ...env,
  });
}

/** A fallback worker child process sending to `smtpUrl`; resolves once its worker is ready. */
export function spawnFallbackWorker(
  target: AppTarget,
  smtpUrl: string,
  defer: Defer,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  return spawnWorker(defer, whereOf(target), {
    SMTP_URL: smtpUrl,
    MAIL_FROM: 'Herald <herald@test.local>',
    ...env,
  });
}

/** What the ack and republish tests (g, h) share: a socket node and a dispatcher, an SMTP sink, a Redis connection. */
export interface FallbackScene {
  redisUrl: string;
  prefix: string;
  target: AppTarget;
  keys: RedisKeys;
  /** The test's own connection, closed after the test. */
  redis: RedisClient;
  sink: SmtpSink;
  /** The socket node's URL. */
  url: string;
}

/**
 * Starts a test's scene on a fresh prefix named after `name`: a socket node and a
 * dispatcher with `ackTimeoutMs` as child processes, and an SMTP sink; the fallback worker
 * is left to the test, which starts it when its checks must run.
 */
export async function startFallbackScene(
  defer: Defer,
  name: string,
  ackTimeoutMs: number,
): Promise<FallbackScene> {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix(name);
  const target = { redisUrl, prefix };
  const redis = createRedis(redisUrl);
  defer(() => closeRedis(redis));
  const sink = await startSmtpSink();
  defer(() => sink.close());
  const [{ url }] = await Promise.all([
    spawnSocketNode(target, defer),
    spawnDispatcher(target, defer, { HERALD_ACK_TIMEOUT_MS: String(ackTimeoutMs) }),
  ]);
  return { redisUrl, prefix, target, keys: createKeys(prefix), redis, sink, url };
}

// --- Queues --------------------------------------------------------------------------------

/** Jobs of a queue that are not finished yet: waiting, delayed, prioritized or active. */
export async function unfinishedJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('wait', 'delayed', 'prioritized', 'active', 'waiting-children');
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/**
 * The ack checks (one per event, or slice of one) in the fallback jobs in `states`: a job
 * holds the checks of every stream entry the dispatcher delivered within its check linger.
 */
export async function checksIn(
  queue: Queue,
  states: Array<'wait' | 'delayed' | 'prioritized' | 'active' | 'completed' | 'failed'>,
): Promise<number> {
  const jobs = await queue.getJobs(states);
  return jobs.reduce((sum, job) => sum + (job.data as FallbackJobData).checks.length, 0);
}

/** Opens a BullMQ queue (events or fallback) to read its state; closed after the test. */
export function openQueue(name: string, connection: RedisClient, prefix: string, defer: Defer): Queue {
  const queue = new Queue(name, { connection, prefix });
  // A test that restarts Redis sees connection errors here; BullMQ would print them unhandled.
  queue.on('error', () => undefined);
  defer(() => queue.close());
  return queue;
}

// --- SDK clients that record what the app saw --------------------------------------------

/** One thing the app saw, in the order its handlers saw it. */
export type Seen =
  | { kind: 'event'; event: string; payload: unknown; meta: DeliveryMeta; at: number }
  | ({ kind: 'gap'; at: number } & GapPayload);

/** An app event as it came off the wire, before the SDK's dedupe and ordering. */
export interface WireEvent {
  event: string;
  id: string;
  seq: number | undefined;
  replayed: boolean;
  at: number;
}

export interface RecordedClient {
  client: HeraldClient;
  seen: Seen[];
  wire: WireEvent[];
  statuses: ConnectionStatus[];
  errors: ClientErrorReport[];
  /** Seqs the handlers got, in order. */
  seqs(): number[];
  /** Event ids the handlers got, in order. */
  ids(): string[];
  gaps(): GapPayload[];
  /** Resolves once the app handled seq `seq` (its cursor reached it). */
  untilSeq(seq: number, timeoutMs?: number): Promise<void>;
}

/** The app events these tests publish. */
export const APP_EVENTS = ['xp:gained', 'notification:new'] as const;

export interface RecordClientOptions extends Partial<HeraldClientOptions> {
  /** Claims of the tokens `getToken` mints (an `email` here is what the fallback uses). */
  token?: MintTokenOptions;
  /**
   * Replaces the recording handler of each app event; it must record itself. Used to
   * hold a handler forever (a device that never gets to ack).
   */
  handler?: (seen: Seen[], payload: unknown, meta: DeliveryMeta, event: string) => unknown;
}

/**
 * A `@herald/client` for `userId` (a fresh token on every connection attempt, websocket
 * transport, fast reconnects) that records what its handlers, gap, status and error
 * listeners saw, and every app event on the wire. Closed after the test.
 */
export function recordClient(
  url: string,
  userId: string,
  defer: Defer,
  options: RecordClientOptions = {},
): RecordedClient {
  const { token, handler, ...clientOptions } = options;
  const client = createHeraldClient({
    url,
    getToken: () => mintToken(userId, token),
    transports: ['websocket'],
    reconnectDelayMs: 100,
    reconnectDelayMaxMs: 1_000,
    // These tests run the fallback check after a second or so: ack sooner than the SDK's 1 s.
    ackDelayMs: 100,
    ...clientOptions,
  });
  defer(() => client.close());
  const seen: Seen[] = [];
  const wire: WireEvent[] = [];
  const statuses: ConnectionStatus[] = [];
  const errors: ClientErrorReport[] = [];
  for (const event of APP_EVENTS) {
    client.on(event, (payload, meta) => {
      if (handler) return handler(seen, payload, meta, event) as void | Promise<void>;
      seen.push({ kind: 'event', event, payload, meta, at: performance.now() });
    });
  }
  client.onGap((gap) => void seen.push({ kind: 'gap', ...gap, at: performance.now() }));
  client.onStatus((status) => void statuses.push(status));
  client.onError((report) => void errors.push(report));
  client.socket.onAny((event: string, _payload: unknown, meta?: Partial<DeliveryMeta>) => {
    if (!(APP_EVENTS as readonly string[]).includes(event)) return;
    wire.push({
      event,
      id: String(meta?.id),
      seq: meta?.seq,
      replayed: meta?.replayed === true,
      at: performance.now(),
    });
  });
  const events = () => seen.flatMap((s) => (s.kind === 'event' ? [s] : []));
  return {
    client,
    seen,
    wire,
    statuses,
    errors,
    seqs: () => events().flatMap((s) => (s.meta.seq === undefined ? [] : [s.meta.seq])),
    ids: () => events().map((s) => s.meta.id),
    gaps: () => seen.flatMap((s) => (s.kind === 'gap' ? [{ fromSeq: s.fromSeq, toSeq: s.toSeq }] : [])),
    untilSeq: (seq, timeoutMs = 30_000) =>
      waitFor(() => client.lastSeq >= seq, {
        timeoutMs,
        message: `${userId}'s handlers reached seq ${seq}`,
      }).then(() => undefined),
  };
}

/** A Web Storage stand-in, shared by clients that play the same device across a "page reload". */
export function memoryStorage(): {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
} {
  const items = new Map<string, string>();
  return { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

/** How many times each value occurs more than once (0 when all are distinct). */
export function repeats(values: readonly unknown[]): number {
  return values.length - new Set(values).size;
}

// --- An SMTP server whose replies a test can hold back ----------------------------------

/** A message the server accepted: it answered 250 to the end of its DATA. */
export interface AcceptedMail {
  from: string | null;
  to: string[];
  raw: string;
  /** The Message-ID header, without angle brackets. */
  messageId: string | null;
  /** `performance.now()` when the client's connection opened (one connection per message here). */
  connectedAt: number;
  /** `performance.now()` just before the 250 was written. */
  acceptedAt: number;
}

/** A message whose DATA arrived while the server held its replies; it is not accepted yet. */
export interface HeldMail {
  to: string[];
  messageId: string | null;
  receivedAt: number;
  /**
   * Answers 250 now: the server takes the message. Resolves once the reply is written to
   * the socket, with the accepted mail, or null when the client's connection is already gone
   * (then the message is dropped, as by a server that had not committed it yet).
   */
  accept(): Promise<AcceptedMail | null>;
}

export interface HoldingSmtpSink {
  url: string;
  /** Accepted messages, in order. */
  mails: AcceptedMail[];
  /** Messages whose reply is held, in arrival order. */
  held: HeldMail[];
  /** Held messages whose connection closed before they were accepted. */
  dropped: number;
  /**
   * Answers 250 at once while fewer than `n` messages were accepted, and holds the replies
   * of later ones (until `accept()`). @default Infinity (never holds)
   */
  acceptUpTo(n: number): void;
  close(): Promise<void>;
}

/** The Message-ID header of a raw message, without its angle brackets. */
export function messageIdOf(raw: string): string | null {
  return /^Message-ID:\s*<([^>]+)>/im.exec(raw)?.[1] ?? null;
}

/**
 * A minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no extensions, so the
 * client sends plain commands one at a time) on a free loopback port. Unlike
 * `startSmtpSink` it can hold the reply to a message's DATA, which is the moment a real
 * server takes responsibility for it: a test can then kill the sender while messages are
 * in flight, or right after one was accepted.
 */
export async function startHoldingSmtpSink(): Promise<HoldingSmtpSink> {
  let limit = Number.POSITIVE_INFINITY;
  const sockets = new Set<Socket>();
  const sink: Omit<HoldingSmtpSink, 'url' | 'close'> = {
    mails: [],
    held: [],
    dropped: 0,
    acceptUpTo(n) {
      limit = n;
    },
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    const connectedAt = performance.now();
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let from: string | null = null;
    let to: string[] = [];
    /** The message of this connection whose reply is held. */
    let pending: HeldMail | undefined;
    const reply = (line: string) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    socket.on('close', () => {
      sockets.delete(socket);
      if (pending) {
        const index = sink.held.indexOf(pending);
        if (index >= 0) sink.held.splice(index, 1);
        sink.dropped += 1;
        pending = undefined;
      }
    });
    socket.on('error', () => undefined);

    const finishData = (body: string) => {
      // Undo dot-stuffing (RFC 5321 4.5.2).
      const raw = body.replace(/^\.\./gm, '.');
      const messageId = messageIdOf(raw);
      const envelope = { from, to: [...to] };
      from = null;
      to = [];
      let accepted = false;
      const accept = async (): Promise<AcceptedMail | null> => {
        if (accepted) throw new Error('this message was already accepted');
        if (socket.destroyed || !socket.writable) return null;
        accepted = true;
        const mail: AcceptedMail = {
          ...envelope,
          raw,
          messageId,
          connectedAt,
          acceptedAt: performance.now(),
        };
        sink.mails.push(mail);
        const index = sink.held.indexOf(held);
        if (index >= 0) sink.held.splice(index, 1);
        pending = undefined;
        await new Promise<void>((resolve) => socket.write('250 2.0.0 accepted\r\n', () => resolve()));
        return mail;
      };
      const held: HeldMail = { to: envelope.to, messageId, receivedAt: performance.now(), accept };
      if (sink.mails.length < limit) {
        void accept();
        return;
      }
      pending = held;
      sink.held.push(held);
    };

    const onLine = (line: string) => {
      const verb = line.slice(0, 4).toUpperCase();
      switch (verb) {
        case 'EHLO':
        case 'HELO':
          reply('250 holding-sink');
          return;
        case 'MAIL':
          from = /<([^>]*)>/.exec(line)?.[1] ?? null;
          to = [];
          reply('250 2.1.0 ok');
          return;
        case 'RCPT': {
          const address = /<([^>]*)>/.exec(line)?.[1];
          if (address) to.push(address);
          reply('250 2.1.5 ok');
          return;
        }
        case 'DATA':
          inData = true;
          reply('354 end data with <CR><LF>.<CR><LF>');
          return;
        case 'RSET':
          from = null;
          to = [];
          reply('250 2.0.0 ok');
          return;
        case 'NOOP':
          reply('250 2.0.0 ok');
          return;
        case 'QUIT':
          reply('221 2.0.0 bye');
          socket.end();
          return;
        default:
          reply('502 5.5.2 command not implemented');
      }
    };

    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          // A message with an empty body ends right after DATA's reply.
          const endAtStart = buffer.startsWith('.\r\n');
          if (end < 0 && !endAtStart) return;
          const body = endAtStart ? '' : buffer.slice(0, end);
          buffer = buffer.slice(endAtStart ? 3 : end + 5);
          inData = false;
          finishData(body);
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        onLine(line);
      }
    });
    socket.write('220 holding-sink ESMTP\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(sink, {
    url: `smtp://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** Nearest-rank percentile of `values` (not empty), `p` in 0..100. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** Milliseconds with one decimal, for the printed figures. */
export const ms = (value: number): string => `${value.toFixed(1)} ms`;
