import { describe, expect, it } from 'vitest';
import { mintToken, sleep, uniqueUser, waitFor } from '@herald/testing';
import { device, published, startStack, useCleanup } from './support.js';

/** Long enough for a stray copy, which would travel the same Redis channel as the real one, to arrive. */
const QUIET_MS = 400;

describe('delivery to every device of a user', () => {
  const defer = useCleanup();

  it('reaches both devices of A on two different nodes with the exact payload, and nothing reaches B', async () => {
    const { urls, publisher } = await startStack(defer, { nodes: 2 });
    const [urlA, urlB] = urls as [string, string];
    const a = uniqueUser('a');
    const b = uniqueUser('b');
    const a1 = await device(urlA, defer, { token: mintToken(a) });
    const a2 = await device(urlB, defer, { token: mintToken(a) });
    const b1 = await device(urlB, defer, { token: mintToken(b) });

    const payload = {
      notification: {
        id: 'n-1',
        title: 'Welcome',
        message: 'Hello there',
        type: 'info',
        extra: { nested: [1, 2] },
      },
      timestamp: '2026-01-01T00:00:00.000Z',
    };
    const before = Date.now();
    const id = await publisher.toUser(a).emit('notification:new', payload);

    for (const d of [a1, a2]) {
      await waitFor(() => d.payloads('notification:new').length === 1, {
        message: 'device of A got the event',
      });
      const [received] = published(d);
      expect(received?.event).toBe('notification:new');
      expect(received?.args[0]).toEqual(payload);
      expect(received?.args[1]).toMatchObject({ id });
      const meta = received?.args[1] as { ts: number };
      expect(meta.ts).toBeGreaterThanOrEqual(before);
      expect(meta.ts).toBeLessThanOrEqual(Date.now());
    }
    await sleep(QUIET_MS);
    expect(published(b1)).toEqual([]);
    expect(published(a1)).toHaveLength(1);
    expect(published(a2)).toHaveLength(1);
  });
});
