import { describe, expect, it } from 'vitest';
import { freePort, refusal, uniquePrefix } from '@herald/testing';
import { createPublisher } from '../src/index.js';

const TIMEOUT_MS = 200;

/**
 * A publisher whose Redis was never reachable (a producer starting during an outage):
 * nothing waits for the reconnect beyond redisTimeoutMs, and a publish refused so was
 * never sent (its batch waits, unsent, for the first connection, and is withdrawn).
 */
describe('a publisher that never reached Redis', () => {
  it('rejects publishes, presence reads and checkRedis with unavailable within redisTimeoutMs', async () => {
    const port = await freePort(); // nothing listens there
    const publisher = createPublisher({
      redisUrl: `redis://127.0.0.1:${port}`,
      prefix: uniquePrefix('ff'),
      redisTimeoutMs: TIMEOUT_MS,
    });
    try {
      const started = performance.now();
      const errors = await Promise.all([
        refusal(() => publisher.toUser('u1').emit('xp:gained', { amount: 1, source: 's', totalXp: 1 })),
        refusal(() => publisher.presence('u1')),
        refusal(() => publisher.isUserConnected('u1')),
        refusal(() => publisher.checkRedis()),
      ]);
      const elapsed = performance.now() - started;
      expect(errors.map((e) => e.code)).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable']);
      expect(errors[0]?.message).toContain('was not published');
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1_500);
    } finally {
      await publisher.close();
    }
  });
});
