import { describe, expect, it } from 'vitest';
import { createShardedEmitter } from '@herald/core';
import { mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';

/**
 * Herald's emitter writes the messages of @socket.io/redis-adapter's sharded adapter by
 * hand. An adapter upgrade that changes their encoding or channel names must fail here,
 * not in production, where events would silently stop arriving.
 */
describe("Herald's sharded emitter and the sharded adapter", () => {
  const defer = useCleanup();

  it('agree: user rooms, named rooms, several rooms, except and everyone arrive with the exact arguments', async () => {
    const prefix = uniquePrefix('format');
    const node = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const [userA, userB] = [uniqueUser('a'), uniqueUser('b')];
    const a = await device(node.url, defer, { token: mintToken(userA, { rooms: ['team-red'] }) });
    const b = await device(node.url, defer, { token: mintToken(userB, { rooms: ['team-blue'] }) });
    const emitter = createShardedEmitter(redis, { channelPrefix: keys.socketIoChannelPrefix });

    const payload = {
      notification: { id: 'n-1', title: 'Hola ñandú ✓', message: null, tags: ['a', 'b'], n: 1.5 },
      timestamp: '2026-12-05T00:00:00.000Z',
    };
    const userMeta = { id: 'evt-1', seq: 7, ts: 1_700_000_000_000 };
    const roomMeta = { id: 'evt-2', ts: 1_700_000_000_001 };
    const everyoneMeta = { id: 'evt-3', ts: 1_700_000_000_002 };
    emitter.to(`user:${userA}`).emit('notification:new', payload, userMeta);
    emitter.to('team-red').emit('leaderboard:updated', { leaderboard: [{ user: 'x', xp: 1 }] }, roomMeta);
    emitter.emit('xp:gained', { amount: 3, source: 'everyone', totalXp: 3 }, everyoneMeta);
    // Several rooms and except: one copy for a socket in both rooms, none for the excluded.
    emitter
      .to(['team-red', `user:${userA}`, 'team-blue'])
      .except('team-blue')
      .emit('rank:updated', { newRank: 'gold', oldRank: 'silver' }, { id: 'evt-4', ts: 4 });
    // Last, to B's room: once it arrived, everything before it was handled by the node.
    const marker = nextEvent(b, 'notification:read');
    emitter
      .to(`user:${userB}`)
      .emit('notification:read', { notificationId: 'n-9', success: true }, { id: 'm', ts: 5 });
    await emitter.send();
    await marker;
    await waitFor(() => a.received.length >= 5, { message: 'A got its five events' });

    expect(a.received.filter((r) => r.event !== 'authenticated')).toEqual([
      { event: 'notification:new', args: [payload, userMeta] },
      { event: 'leaderboard:updated', args: [{ leaderboard: [{ user: 'x', xp: 1 }] }, roomMeta] },
      { event: 'xp:gained', args: [{ amount: 3, source: 'everyone', totalXp: 3 }, everyoneMeta] },
      {
        event: 'rank:updated',
        args: [
          { newRank: 'gold', oldRank: 'silver' },
          { id: 'evt-4', ts: 4 },
        ],
      },
    ]);
    expect(b.received.filter((r) => r.event !== 'authenticated')).toEqual([
      { event: 'xp:gained', args: [{ amount: 3, source: 'everyone', totalXp: 3 }, everyoneMeta] },
      {
        event: 'notification:read',
        args: [
          { notificationId: 'n-9', success: true },
          { id: 'm', ts: 5 },
        ],
      },
    ]);
  });
});
