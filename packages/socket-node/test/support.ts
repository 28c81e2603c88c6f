export { useCleanup, type Defer } from '@herald/testing';
import { inject } from 'vitest';
import {
  PresenceReader,
  createKeys,
  createRedis,
  createShardedEmitter,
  closeRedis,
  silentLogger,
  type RedisKeys,
  type RedisClient,
  type ShardedEmitter,
} from '@herald/core';
import {
  TEST_JWT_SECRET,
  connectDevice,
  spawnApp,
  type AppProcess,
  type ConnectDeviceOptions,
  type Device,
} from '@herald/testing';
import { startSocketNode, type SocketNode, type SocketNodeOptions } from '../src/index.js';

export interface TestNode {
  node: SocketNode;
  url: string;
}

/** Starts an in-process node on a free loopback port, with the test JWT secret. */
export async function startTestNode(
  prefix: string,
  defer: (fn: () => unknown) => void,
  overrides: Partial<SocketNodeOptions> = {},
): Promise<TestNode> {
  const node = await startSocketNode({
    redisUrl: inject('redisUrl'),
    prefix,
    jwtSecret: TEST_JWT_SECRET,
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger(),
    ...overrides,
  });
  defer(() => node.close());
  return { node, url: `http://127.0.0.1:${node.port}` };
}

/** A plain Redis connection plus presence reads, closed after the test. */
export function useRedis(prefix: string, defer: (fn: () => unknown) => void) {
  const redis: RedisClient = createRedis(inject('redisUrl'));
  defer(() => closeRedis(redis));
  const keys: RedisKeys = createKeys(prefix);
  return { redis, keys, presence: new PresenceReader(redis, keys) };
}

/**
 * The dispatcher's way of reaching sockets (`createShardedEmitter` on the adapter's channel
 * prefix), sending each emit at once as a test expects: `emit` resolves once Redis took it.
 */
export function createEmitter(redis: RedisClient, keys: RedisKeys) {
  const emitter: ShardedEmitter = createShardedEmitter(redis, { channelPrefix: keys.socketIoChannelPrefix });
  const sender = (rooms: string[]) => ({
    to: (room: string) => sender([...rooms, room]),
    emit(event: string, ...args: unknown[]): Promise<void> {
      (rooms.length > 0 ? emitter.to(rooms) : emitter).emit(event, ...args);
      return emitter.send();
    },
  });
  return sender([]);
}

/** Connects a device and closes it after the test. */
export async function device(
  url: string,
  defer: (fn: () => unknown) => void,
  options: ConnectDeviceOptions,
): Promise<Device> {
  const connected = await connectDevice(url, options);
  defer(() => connected.close());
  return connected;
}

/** Resolves with the next `event` a device receives (after what it already has). */
export function nextEvent(target: Device, event: string, timeoutMs = 5_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    target.socket.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** A socket node as a real child process (`src/main.ts`), listening on a free port. */
export async function spawnNode(
  prefix: string,
  defer: (fn: () => unknown) => void,
  env: Record<string, string> = {},
): Promise<{ app: AppProcess; url: string; port: number }> {
  const app = spawnApp('socket-node', {
    REDIS_URL: inject('redisUrl'),
    HERALD_REDIS_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
    HERALD_LOG_LEVEL: 'info',
    ...env,
  });
  defer(() => app.stop('SIGKILL'));
  const match = await app.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/, 30_000);
  const port = Number(match[1]);
  return { app, url: `http://127.0.0.1:${port}`, port };
}
