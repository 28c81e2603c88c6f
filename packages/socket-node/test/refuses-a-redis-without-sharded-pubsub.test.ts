import { describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import { TEST_JWT_SECRET, startRedisServer, uniquePrefix } from '@herald/testing';
import { startSocketNode } from '../src/index.js';
import { useCleanup } from './support.js';

describe('a Redis without sharded pub/sub (before 7.0)', () => {
  const defer = useCleanup();

  it('stops the node at start-up with a message naming SSUBSCRIBE, instead of a node that never receives an event', async () => {
    // SSUBSCRIBE renamed away: what a Redis 6 answers, "unknown command".
    const server = await startRedisServer({ args: ['--rename-command', 'SSUBSCRIBE', ''] });
    defer(() => server.stop());
    const started = startSocketNode({
      redisUrl: server.url,
      prefix: uniquePrefix('old-redis'),
      jwtSecret: TEST_JWT_SECRET,
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger(),
    });
    // A node that started anyway is closed after the test.
    started.then((node) => defer(() => node.close())).catch(() => undefined);
    await expect(started).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringMatching(/Redis refused SSUBSCRIBE .*Redis 7 or newer/),
    });
  });
});
