import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, resolveRedis } from '../src/index.js';

describe('resolveRedis', () => {
  it('starts a private redis-server when REDIS_URL is unset and stops it again', async () => {
    const resolved = await resolveRedis({ env: {}, tryContainer: false });
    expect(resolved.source).toBe('child');
    const redis = new Redis(resolved.url);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    redis.disconnect();
    await resolved.stop();
    const probe = new Redis(resolved.url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => undefined);
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  });

  it('uses REDIS_URL when it answers, and says so clearly when it does not', async () => {
    const own = await resolveRedis({ env: {}, tryContainer: false });
    try {
      const viaEnv = await resolveRedis({ env: { REDIS_URL: own.url } });
      expect(viaEnv).toMatchObject({ source: 'env', url: own.url });
    } finally {
      await own.stop();
    }
    const dead = `redis://127.0.0.1:${await freePort()}`;
    await expect(resolveRedis({ env: { REDIS_URL: dead } })).rejects.toThrow(
      /REDIS_URL is set but .* does not answer/,
    );
    const withPassword = dead.replace('redis://', 'redis://:hunter2-secret@');
    const error = await resolveRedis({ env: { REDIS_URL: withPassword } }).then(
      () => new Error('resolved'),
      (e: unknown) => e as Error,
    );
    expect(error.message).not.toContain('hunter2-secret');
    expect(error.message).toContain('redacted');
  });
});
