import { describe, expect, it } from 'vitest';
import type { Identity } from '@herald/core';
import { connectError, mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';

describe('authorizeRooms hook', () => {
  const defer = useCleanup();

  it("joins the rooms it returns besides the token's, never another user's room, and refuses when it throws", async () => {
    const prefix = uniquePrefix('authz');
    const victim = uniqueUser('victim');
    const seen: Identity[] = [];
    const { url, node } = await startTestNode(prefix, defer, {
      authorizeRooms: async (identity) => {
        seen.push(identity);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (identity.role === 'broken') throw new Error('directory unavailable');
        return [
          'team-red',
          `user:${victim}`,
          `user:${identity.userId}`,
          'user:',
          '',
          'x'.repeat(201),
          7 as unknown as string,
        ];
      },
    });
    const { redis, keys } = useRedis(prefix, defer);
    const user = uniqueUser();
    const d = await device(url, defer, {
      token: mintToken(user, { role: 'member', rooms: ['league:gold', `user:${victim}`] }),
      // Whatever a client claims about itself or its rooms in the handshake is ignored.
      auth: { userId: victim, rooms: ['team-blue'] },
    });

    expect(seen).toEqual([
      {
        userId: user,
        email: null,
        role: 'member',
        rooms: ['league:gold', `user:${victim}`],
        exp: expect.any(Number),
      },
    ]);
    const serverSocket = node.io.of('/').sockets.get(d.socket.id!)!;
    expect([...serverSocket.rooms].filter((room) => room !== serverSocket.id).sort()).toEqual(
      ['league:gold', 'team-red', `user:${user}`].sort(),
    );
    expect(node.io.of('/').adapter.rooms.has(`user:${victim}`)).toBe(false);

    // There is no join event: asking for a room is an unknown event and changes nothing.
    const answer = await d.socket.emitWithAck('join', { room: 'team-blue' });
    expect(answer).toMatchObject({ accepted: false, code: 'unknown_event' });
    expect(serverSocket.rooms.has('team-blue')).toBe(false);

    const emitter = createEmitter(redis, keys);
    const red = nextEvent(d, 'leaderboard:updated');
    await emitter.to('team-red').emit('leaderboard:updated', { leaderboard: [] }, { id: 'a-1', ts: 1 });
    await red;
    await emitter
      .to(`user:${victim}`)
      .emit('notification:new', { notification: { title: 'private' } }, { id: 'a-2', ts: 2 });
    await emitter
      .to('team-blue')
      .emit('notification:new', { notification: { title: 'blue' } }, { id: 'a-3', ts: 3 });
    // Ordered channel: the marker arrives after anything emitted before it.
    const marker = nextEvent(d, 'xp:gained');
    await emitter
      .to(`user:${user}`)
      .emit('xp:gained', { amount: 1, source: 'marker', totalXp: 1 }, { id: 'a-4', ts: 4 });
    await marker;
    expect(d.payloads('notification:new')).toEqual([]);

    expect(await connectError(url, { token: mintToken(uniqueUser(), { role: 'broken' }) })).toBe('internal');
    expect(node.io.of('/').sockets.size).toBe(1);
  });
});
