export { useCleanup, type Defer } from '@herald/testing';
import type { Defer } from '@herald/testing';
import { inject } from 'vitest';
import { InboxEntry, type DeliveryMeta, type GapPayload } from '@herald/contracts';
import {
  appendEntry,
  closeRedis,
  createKeys,
  createRedis,
  createShardedEmitter,
  silentLogger,
  type RedisClient,
  type RedisKeys,
  type ShardedEmitter,
} from '@herald/core';
import { startDispatcher, type Dispatcher } from '@herald/dispatcher';
import { createPublisher, type Publisher, type PublisherOptions } from '@herald/publisher';
import { startSocketNode, type SocketNode, type SocketNodeOptions } from '@herald/socket-node';
import {
  TEST_JWT_SECRET,
  connectDevice,
  mintToken,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type Device,
} from '@herald/testing';
import {
  createHeraldClient,
  type ClientErrorReport,
  type ConnectionStatus,
  type HeraldClient,
  type HeraldClientOptions,
} from '../src/index.js';

export interface StackOptions {
  /** Socket nodes to start. @default 1 */
  nodes?: number;
  /** Start a dispatcher (false: the test delivers by hand, see `deliverFromInbox`). @default true */
  dispatcher?: boolean;
  nodeOptions?: Partial<SocketNodeOptions>;
  publisherOptions?: Partial<PublisherOptions>;
}

export interface Stack {
  prefix: string;
  keys: RedisKeys;
  /** A plain connection for the test's own reads. */
  redis: RedisClient;
  nodes: SocketNode[];
  /** `http://127.0.0.1:{port}` of each node. */
  urls: string[];
  publisher: Publisher;
  dispatcher: Dispatcher | undefined;
  /** Reaches sockets the way the dispatcher does, for what a test must send by hand (then `send()`). */
  emitter: ShardedEmitter;
}

/** A socket node on loopback with the test secret, closed after the test. */
async function startTestNode(
  defer: Defer,
  redisUrl: string,
  prefix: string,
  options: Partial<SocketNodeOptions> = {},
): Promise<SocketNode> {
  const node = await startSocketNode({
    redisUrl,
    prefix,
    jwtSecret: TEST_JWT_SECRET,
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger(),
    ...options,
  });
  defer(() => node.close());
  return node;
}

/** Real socket nodes, a dispatcher and a publisher on a fresh prefix, all closed after the test. */
export async function startStack(defer: Defer, options: StackOptions = {}): Promise<Stack> {
  const prefix = uniquePrefix('client');
  const redisUrl = inject('redisUrl');
  const logger = silentLogger();
  const redis = createRedis(redisUrl);
  defer(() => closeRedis(redis));
  const keys = createKeys(prefix);
  const nodes: SocketNode[] = [];
  for (let i = 0; i < (options.nodes ?? 1); i++) {
    nodes.push(await startTestNode(defer, redisUrl, prefix, options.nodeOptions));
  }
  let dispatcher: Dispatcher | undefined;
  if (options.dispatcher ?? true) {
    const started = await startDispatcher({ redisUrl, prefix, logger });
    defer(() => started.close());
    dispatcher = started;
  }
  const publisher = createPublisher({ redisUrl, prefix, ...options.publisherOptions });
  defer(() => publisher.close());
  return {
    prefix,
    keys,
    redis,
    nodes,
    urls: nodes.map((n) => `http://127.0.0.1:${n.port}`),
    publisher,
    dispatcher,
    emitter: createShardedEmitter(redis, { channelPrefix: keys.socketIoChannelPrefix }),
  };
}

/** One thing the app saw, in the order its handlers saw it. */
export type Seen =
  { kind: 'event'; event: string; payload: unknown; meta: DeliveryMeta } | ({ kind: 'gap' } & GapPayload);

/** A client plus everything its handlers, status and error listeners saw. */
export interface Recorded {
  client: HeraldClient;
  seen: Seen[];
  statuses: ConnectionStatus[];
  errors: ClientErrorReport[];
  /** Every app event on the wire (before dedupe and ordering), as `event#seq`. */
  wire: string[];
  /** Names of the events the client sent (`herald:ack`, `herald:sync`…), in order. */
  sent: string[];
  /** Seqs handed to handlers, in order. */
  seqs(): number[];
  gaps(): GapPayload[];
  /** Resolves once handlers saw seq `seq`. */
  untilSeq(seq: number, timeoutMs?: number): Promise<void>;
}

/** The app events the tests publish. */
export const EVENTS = ['xp:gained', 'notification:new'] as const;

/**
 * Creates a client for `userId` (a fresh token per connection attempt unless
 * `getToken` is given), records what it sees and closes it after the test.
 */
export function startClient(
  url: string,
  userId: string,
  defer: Defer,
  options: Partial<HeraldClientOptions> = {},
): Recorded {
  const client = createHeraldClient({
    url,
    getToken: () => mintToken(userId),
    transports: ['websocket'],
    reconnectDelayMs: 100,
    reconnectDelayMaxMs: 1_000,
    ...options,
  });
  defer(() => client.close());
  const seen: Seen[] = [];
  const statuses: ConnectionStatus[] = [];
  const errors: ClientErrorReport[] = [];
  const wire: string[] = [];
  const sent: string[] = [];
  client.socket.onAnyOutgoing((event: string) => void sent.push(event));
  for (const event of EVENTS) {
    client.on(event, (payload, meta) => void seen.push({ kind: 'event', event, payload, meta }));
  }
  client.onGap((gap) => void seen.push({ kind: 'gap', ...gap }));
  client.onStatus((status) => void statuses.push(status));
  client.onError((report) => void errors.push(report));
  client.socket.onAny((event: string, _payload: unknown, meta?: { seq?: number }) => {
    if ((EVENTS as readonly string[]).includes(event)) wire.push(`${event}#${String(meta?.seq)}`);
  });
  const seqs = () =>
    seen.flatMap((s) => (s.kind === 'event' && s.meta.seq !== undefined ? [s.meta.seq] : []));
  return {
    client,
    seen,
    statuses,
    errors,
    wire,
    sent,
    seqs,
    gaps: () => seen.flatMap((s) => (s.kind === 'gap' ? [{ fromSeq: s.fromSeq, toSeq: s.toSeq }] : [])),
    untilSeq: (seq, timeoutMs = 20_000) =>
      waitFor(() => client.lastSeq >= seq, { timeoutMs, message: `handlers reached seq ${seq}` }).then(
        () => undefined,
      ),
  };
}

/** 1..n */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A Web Storage stand-in (what `localStorage` does), shared by clients that "reload the page". */
export function memoryStorage(): {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
} {
  const items = new Map<string, string>();
  return { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

/** Publishes `count` xp:gained events to `userId`, one after another (each awaited), numbered from `from`. */
export async function publishMany(
  publisher: Publisher,
  userId: string,
  from: number,
  count: number,
): Promise<void> {
  for (let n = from; n < from + count; n++) {
    await publisher.toUser(userId).emit('xp:gained', { amount: 1, source: `n${n}`, totalXp: n });
  }
}

/**
 * Emits the user's inbox entries with seqs `seqs` (in that order) live to the user's room,
 * as the dispatcher does: for tests that decide what reaches the wire and when.
 */
export async function deliverFromInbox(stack: Stack, userId: string, seqs: number[]): Promise<void> {
  const entries = (await stack.redis.lrange(stack.keys.inbox(userId), 0, -1)).map((raw) =>
    InboxEntry.parse(JSON.parse(raw)),
  );
  for (const seq of seqs) {
    const entry = entries.find((e) => e.seq === seq);
    if (!entry) throw new Error(`seq ${seq} is not in the inbox of ${userId}`);
    stack.emitter
      .to(`user:${userId}`)
      .emit(entry.event, entry.payload, { id: entry.id, seq: entry.seq, ts: entry.ts });
  }
  await stack.emitter.send();
}

/** One socket node, a user with an SDK client and a plain device on it, for the resync tests. */
export interface ResyncScene {
  redis: RedisClient;
  keys: RedisKeys;
  user: string;
  sdk: Recorded;
  /** A plain socket.io client of the same user: what the node sends it (`herald:resync`) is visible. */
  plain: Device;
  /**
   * Sequences `count` events for the user straight into the inbox and the stream, with no
   * dispatcher to emit them: as if they were emitted while the node could not hear them.
   */
  appendUnheard: (count: number) => Promise<void>;
}

export async function startResyncScene(defer: Defer, redisUrl: string, label: string): Promise<ResyncScene> {
  const prefix = uniquePrefix(label);
  const keys = createKeys(prefix);
  const redis = createRedis(redisUrl);
  redis.on('error', () => undefined);
  defer(() => closeRedis(redis));
  const node = await startTestNode(defer, redisUrl, prefix);
  const url = `http://127.0.0.1:${node.port}`;
  const user = uniqueUser('resync');
  const sdk = startClient(url, user, defer);
  await sdk.client.ready;
  const plain = await connectDevice(url, { token: mintToken(user) });
  defer(() => plain.close());
  return {
    redis,
    keys,
    user,
    sdk,
    plain,
    appendUnheard: async (count) => {
      const items = range(1, count).map((n) => ({
        eventId: `lost-${n}`,
        part: 0,
        userIds: [user],
        event: 'xp:gained',
        payload: { amount: n, source: 'resync', totalXp: n },
        publishedAt: Date.now(),
        idSupplied: false,
      }));
      await appendEntry(redis, keys, keys.partitionOf(user), items, JSON.stringify(items), {
        inboxMax: 100,
        inboxTtlS: 600,
      });
    },
  };
}
