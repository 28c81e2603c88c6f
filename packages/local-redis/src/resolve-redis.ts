import { access } from 'node:fs/promises';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { startRedisServer, waitForRedis } from './redis-server-child.js';

export type RedisSource = 'env' | 'container' | 'child';

export interface ResolvedRedis {
  url: string;
  source: RedisSource;
  /** Stops what was started for this run; a no-op for `REDIS_URL`. */
  stop(): Promise<void>;
}

export interface ResolveRedisOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Try a testcontainers Redis before a local binary. @default true */
  tryContainer?: boolean;
}

/** Whether a Docker engine is likely to answer: a socket or DOCKER_HOST. The CLI alone is not enough. */
async function dockerEngineLikely(env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env.DOCKER_HOST) return true;
  try {
    await access('/var/run/docker.sock');
    return true;
  } catch {
    return false;
  }
}

/** A Redis URL fit for an error message: any password in it is replaced. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '(an unparseable URL)';
  }
}

async function startContainer(): Promise<ResolvedRedis | null> {
  try {
    // Loaded only when an engine may answer: testcontainers is heavy and probes at import.
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    await waitForRedis(url);
    return { url, source: 'container', stop: async () => void (await container.stop()) };
  } catch {
    return null;
  }
}

/**
 * Finds a Redis the way DESIGN.md says: `REDIS_URL` when set; else a container
 * through testcontainers when a Docker engine answers; else a private
 * `redis-server` on a free port. Throws one error naming both ways when none works.
 */
export async function resolveRedis(options: ResolveRedisOptions = {}): Promise<ResolvedRedis> {
  const env = options.env ?? process.env;
  const url = env.REDIS_URL;
  if (url) {
    await waitForRedis(url, 5_000).catch((error: unknown) => {
      throw new HeraldError(
        HeraldErrorCode.invalidConfig,
        `REDIS_URL is set but ${redactRedisUrl(url)} does not answer PING`,
        {
          cause: error,
        },
      );
    });
    return { url, source: 'env', stop: () => Promise.resolve() };
  }
  if ((options.tryContainer ?? true) && (await dockerEngineLikely(env))) {
    const container = await startContainer();
    if (container) return container;
  }
  try {
    const child = await startRedisServer();
    return { url: child.url, source: 'child', stop: () => child.stop() };
  } catch (error) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'No Redis found: set REDIS_URL to a running Redis (redis://host:6379), or install redis-server ' +
        '(apt-get install redis-server / brew install redis) so Herald can start a private one; ' +
        'a running Docker engine also works.',
      { cause: error },
    );
  }
}
