export { useCleanup, type Defer } from '@herald/testing';
import type { Defer } from '@herald/testing';
import { inject } from 'vitest';
import type { Catalog } from '@herald/contracts';
import {
  closeRedis,
  createKeys,
  createRedis,
  readStreamBacklog,
  silentLogger,
  type StreamBacklog,
  type Logger,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';
import { createPublisher, type Publisher } from '@herald/publisher';
import { startSocketNode, type SocketNode } from '@herald/socket-node';
import {
  TEST_JWT_SECRET,
  connectDevice,
  uniquePrefix,
  waitFor,
  type ConnectDeviceOptions,
  type Device,
} from '@herald/testing';
import { startDispatcher, type Dispatcher, type DispatcherOptions } from '../src/index.js';

export interface StackOptions<C extends Catalog> {
  /** Socket nodes to start. @default 2 */
  nodes?: number;
  /** Start an in-process dispatcher (false when the test runs its own). @default true */
  dispatcher?: boolean;
  dispatcherOptions?: Partial<DispatcherOptions>;
  catalog?: C;
  logger?: Logger;
}

export interface Stack<C extends Catalog> {
  prefix: string;
  redisUrl: string;
  keys: RedisKeys;
  /** A plain connection for the test's own reads. */
  redis: RedisClient;
  nodes: SocketNode[];
  /** `http://127.0.0.1:{port}` of each node. */
  urls: string[];
  publisher: Publisher<C>;
  dispatcher: Dispatcher | undefined;
}

/** Socket nodes, a dispatcher and a publisher on a fresh prefix, all closed after the test. */
export async function startStack<C extends Catalog>(
  defer: Defer,
  options: StackOptions<C> = {},
): Promise<Stack<C>> {
  const prefix = uniquePrefix('disp');
  const redisUrl = inject('redisUrl');
  const logger = options.logger ?? silentLogger();
  const redis = createRedis(redisUrl);
  defer(() => closeRedis(redis));
  const nodes: SocketNode[] = [];
  for (let i = 0; i < (options.nodes ?? 2); i++) {
    const node = await startSocketNode({
      redisUrl,
      prefix,
      jwtSecret: TEST_JWT_SECRET,
      port: 0,
      host: '127.0.0.1',
      logger,
    });
    defer(() => node.close());
    nodes.push(node);
  }
  let dispatcher: Dispatcher | undefined;
  if (options.dispatcher ?? true) {
    dispatcher = await startDispatcher({ redisUrl, prefix, logger, ...options.dispatcherOptions });
    const started = dispatcher;
    defer(() => started.close());
  }
  const publisher = createPublisher<C>({
    redisUrl,
    prefix,
    ...(options.catalog ? { catalog: options.catalog } : {}),
  });
  defer(() => publisher.close());
  return {
    prefix,
    redisUrl,
    keys: createKeys(prefix),
    redis,
    nodes,
    urls: nodes.map((n) => `http://127.0.0.1:${n.port}`),
    publisher,
    dispatcher,
  };
}

/** Connects a device (resolves after `authenticated`, so its presence is registered) and closes it after the test. */
export async function device(url: string, defer: Defer, options: ConnectDeviceOptions): Promise<Device> {
  const connected = await connectDevice(url, options);
  defer(() => connected.close());
  return connected;
}

/** Everything a device received except the handshake's `authenticated`. */
export function published(target: Device): Array<{ event: string; args: unknown[] }> {
  return target.received.filter((r) => r.event !== 'authenticated');
}

/** Resolves, with the backlog, once the dispatchers read and acknowledged every entry appended so far. */
export async function streamsSettled(
  redis: RedisClient,
  keys: RedisKeys,
  timeoutMs = 30_000,
): Promise<StreamBacklog> {
  return waitFor(
    async () => {
      const backlog = await readStreamBacklog(redis, keys);
      return backlog.settled ? backlog : undefined;
    },
    { timeoutMs, message: 'every stream entry delivered and acknowledged' },
  );
}
