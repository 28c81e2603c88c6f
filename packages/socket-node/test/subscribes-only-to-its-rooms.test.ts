import { describe, expect, it } from 'vitest';
import { createShardedEmitter, roomChannel, type Redis } from '@herald/core';
import { mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { device, nextEvent, startTestNode, useCleanup, useRedis, type TestNode } from './support.js';

/** Counts the sharded messages a node's subscriber connection receives, per channel. */
function countMessages(node: TestNode): Map<string, number> {
  // The adapter's own subscriber connection: what reaches it is what the node decodes.
  const { subClient } = node.node.io.of('/').adapter as unknown as { subClient: Redis };
  const counts = new Map<string, number>();
  subClient.on('smessageBuffer', (channel: Buffer) => {
    const name = channel.toString();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  return counts;
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);

describe('sharded pub/sub, subscribed per room', () => {
  const defer = useCleanup();

  it('a node holding no socket of a user receives no message for that user, and unsubscribes when the last one leaves', async () => {
    const prefix = uniquePrefix('sharded');
    const [nodeA, nodeB] = [await startTestNode(prefix, defer), await startTestNode(prefix, defer)];
    const { redis, keys } = useRedis(prefix, defer);
    // 15 characters: `user:{X}` is as long as a socket id, which the adapter's own emits treat
    // differently (on the namespace channel); Herald's emitter names only rooms.
    const [userX, userY] = [`x-${crypto.randomUUID().slice(0, 13)}`, uniqueUser('y')];
    expect(`user:${userX}`).toHaveLength(20);
    const channelX = roomChannel(keys.socketIoChannelPrefix, `user:${userX}`);
    const channelY = roomChannel(keys.socketIoChannelPrefix, `user:${userY}`);
    const subscribers = async (channel: string) =>
      ((await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];

    const x1 = await device(nodeA.url, defer, { token: mintToken(userX) });
    const x2 = await device(nodeA.url, defer, { token: mintToken(userX) });
    const y = await device(nodeB.url, defer, { token: mintToken(userY) });
    // One subscriber per node holding the room, whatever its number of sockets there.
    expect(await subscribers(channelX)).toBe(1);
    expect(await subscribers(channelY)).toBe(1);

    const atA = countMessages(nodeA);
    const atB = countMessages(nodeB);
    const emitter = createShardedEmitter(redis, { channelPrefix: keys.socketIoChannelPrefix });
    const events = 200;
    for (let i = 0; i < events; i++)
      emitter
        .to(`user:${userX}`)
        .emit('xp:gained', { amount: i, source: 'x', totalXp: i }, { id: `x-${i}`, ts: i });
    // Then one to Y, on B: once it arrived, B would have had X's messages before it.
    const marker = nextEvent(y, 'xp:gained');
    emitter
      .to(`user:${userY}`)
      .emit('xp:gained', { amount: 0, source: 'y', totalXp: 0 }, { id: 'y-0', ts: 0 });
    await emitter.send();
    await marker;
    await waitFor(
      () => x1.payloads('xp:gained').length === events && x2.payloads('xp:gained').length === events,
      {
        message: "both of X's devices got every event",
      },
    );

    expect(Object.fromEntries(atA)).toEqual({ [channelX]: events });
    expect(Object.fromEntries(atB)).toEqual({ [channelY]: 1 });
    expect(total(atB)).toBe(1);

    // The room's channel stays subscribed while a socket of X is on A, and goes with the last.
    x1.close();
    await waitFor(
      async () => (await subscribers(channelX)) === 1 && nodeA.node.io.of('/').sockets.size === 1,
      {
        message: 'A noticed the first device left',
      },
    );
    expect(await subscribers(channelX)).toBe(1);
    x2.close();
    await waitFor(async () => (await subscribers(channelX)) === 0, {
      message: "A unsubscribed from X's room when X's last device left",
    });
    expect(await subscribers(channelY)).toBe(1);
  });
});
