import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultCatalog, defineEvent, extendCatalog } from '@herald/contracts';
import { mintToken, sleep, uniqueUser, waitFor } from '@herald/testing';
import { device, published, startStack, useCleanup } from './support.js';

const QUIET_MS = 400;
const xp = (amount: number) => ({ amount, source: 'quiz', totalXp: 100 + amount });

describe('delivery targets', () => {
  const defer = useCleanup();

  it('toUsers reaches each listed user on any node, and not the others', async () => {
    const { urls, publisher } = await startStack(defer);
    const users = [uniqueUser('u1'), uniqueUser('u2'), uniqueUser('u3')];
    const outsider = uniqueUser('out');
    const devices = await Promise.all(
      users.map((u, i) => device(urls[i % urls.length] as string, defer, { token: mintToken(u) })),
    );
    const other = await device(urls[0] as string, defer, { token: mintToken(outsider) });

    const id = await publisher.toUsers(users).emit('xp:gained', xp(5));

    for (const d of devices) {
      await waitFor(() => d.payloads('xp:gained').length === 1, { message: 'listed user got the event' });
      expect(published(d)).toEqual([{ event: 'xp:gained', args: [xp(5), expect.objectContaining({ id })] }]);
    }
    await sleep(QUIET_MS);
    expect(published(other)).toEqual([]);
  });

  it('broadcast reaches every connected device on every node', async () => {
    const { urls, publisher } = await startStack(defer);
    const devices = await Promise.all(
      [0, 1, 2, 3].map((i) => device(urls[i % 2] as string, defer, { token: mintToken(uniqueUser('all')) })),
    );
    const payload = { leaderboard: [{ userId: 'x', xp: 10 }] };
    const id = await publisher.broadcast().emit('leaderboard:updated', payload);
    for (const d of devices) {
      await waitFor(() => d.payloads('leaderboard:updated').length === 1, {
        message: 'device got the broadcast',
      });
      expect(published(d)).toEqual([
        { event: 'leaderboard:updated', args: [payload, expect.objectContaining({ id })] },
      ]);
    }
  });

  it('a room reaches only the devices whose token names it', async () => {
    const { urls, publisher } = await startStack(defer);
    const room = `team-${crypto.randomUUID().slice(0, 6)}`;
    const members = await Promise.all(
      [0, 1].map((i) =>
        device(urls[i] as string, defer, { token: mintToken(uniqueUser('m'), { rooms: [room] }) }),
      ),
    );
    const others = await Promise.all([
      device(urls[0] as string, defer, { token: mintToken(uniqueUser('o')) }),
      device(urls[1] as string, defer, { token: mintToken(uniqueUser('o'), { rooms: ['another-room'] }) }),
    ]);
    const id = await publisher.toRoom(room).emit('xp:gained', xp(7));
    for (const d of members) {
      await waitFor(() => d.payloads('xp:gained').length === 1, { message: 'room member got the event' });
      expect(published(d)).toEqual([{ event: 'xp:gained', args: [xp(7), expect.objectContaining({ id })] }]);
    }
    await sleep(QUIET_MS);
    for (const d of others) expect(published(d)).toEqual([]);
  });

  it("delivers an application's own event added with extendCatalog", async () => {
    const catalog = extendCatalog(defaultCatalog, {
      'order:shipped': defineEvent(z.object({ orderId: z.string(), carrier: z.string() })),
    });
    const { urls, publisher } = await startStack(defer, { catalog });
    const user = uniqueUser('shop');
    const d = await device(urls[1] as string, defer, { token: mintToken(user) });
    const payload = { orderId: 'o-42', carrier: 'DHL' };
    const id = await publisher.toUser(user).emit('order:shipped', payload);
    await waitFor(() => d.payloads('order:shipped').length === 1, { message: 'custom event delivered' });
    expect(published(d)).toEqual([
      { event: 'order:shipped', args: [payload, expect.objectContaining({ id })] },
    ]);
  });

  it('reaches a polling-only device', async () => {
    const { urls, publisher } = await startStack(defer);
    const user = uniqueUser('poll');
    const d = await device(urls[0] as string, defer, { token: mintToken(user), transports: ['polling'] });
    expect(d.socket.io.engine.transport.name).toBe('polling');
    const payload = { notificationId: 'n-9', success: true };
    const id = await publisher.toUser(user).emit('notification:read', payload);
    await waitFor(() => d.payloads('notification:read').length === 1, {
      message: 'polling device got the event',
    });
    expect(published(d)).toEqual([
      { event: 'notification:read', args: [payload, expect.objectContaining({ id })] },
    ]);
    expect(d.socket.io.engine.transport.name).toBe('polling');
  });
});
