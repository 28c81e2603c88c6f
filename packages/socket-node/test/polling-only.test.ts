import { describe, expect, it } from 'vitest';
import { mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';

describe('a polling-only client', () => {
  const defer = useCleanup();

  it('receives events emitted into its user room, payload first and meta second; another user receives nothing', async () => {
    const prefix = uniquePrefix('polling');
    const { url } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const userA = uniqueUser('a');
    const userB = uniqueUser('b');
    const a = await device(url, defer, { token: mintToken(userA), transports: ['polling'] });
    const b = await device(url, defer, { token: mintToken(userB), transports: ['polling'] });
    expect(a.socket.io.engine.transport.name).toBe('polling');

    const emitter = createEmitter(redis, keys);
    const payload = {
      notification: { id: 'n-1', title: 'Hola', message: 'Tienes un mensaje', extra: [1, 2] },
      timestamp: '2024-01-01T00:00:00Z',
    };
    const meta = { id: 'evt-1', ts: 1_700_000_000_000 };
    const received = nextEvent(a, 'notification:new');
    await emitter.to(`user:${userA}`).emit('notification:new', payload, meta);
    expect(await received).toEqual([payload, meta]);

    // Messages on the channel arrive in order, so once B has its own marker, A's event would have come first.
    const marker = nextEvent(b, 'xp:gained');
    await emitter
      .to(`user:${userB}`)
      .emit('xp:gained', { amount: 1, source: 'marker', totalXp: 1 }, { id: 'evt-2', ts: 2 });
    await marker;
    expect(b.payloads('notification:new')).toEqual([]);
    expect(a.payloads('xp:gained')).toEqual([]);
    expect(a.socket.io.engine.transport.name).toBe('polling');
  });
});
