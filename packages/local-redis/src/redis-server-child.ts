import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** Resolves once `url` answers PING, or rejects after `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      redis.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RedisServerChild {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** @default 'redis-server' */
  binary?: string;
  /**
   * Extra arguments, e.g. `['--appendonly', 'yes', '--dir', dir]`. With
   * `['--requirepass', pw]` the returned `url` includes the password.
   */
  args?: string[];
  port?: number;
}

/**
 * Starts a private `redis-server` on a free loopback port. It keeps nothing on
 * disk unless `args` says so and uses `noeviction`, which BullMQ requires.
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerChild> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    options.binary ?? 'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  // With `--requirepass`, the URL carries the password, so PING (and the caller) can get in.
  const passwordAt = options.args?.indexOf('--requirepass') ?? -1;
  const password = passwordAt >= 0 ? options.args?.[passwordAt + 1] : undefined;
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  const url = `redis://${auth}127.0.0.1:${port}`;
  await Promise.race([waitForRedis(url), spawnError]);
  return {
    url,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
