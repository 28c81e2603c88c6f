import net from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { createKeys, createShardedEmitter } from '@herald/core';
import { mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { device, nextEvent, startTestNode, useCleanup, useRedis, type Defer } from './support.js';

/**
 * A TCP proxy to Redis that holds back, by `delayMs`, what a connection sends once it has
 * sent an SSUBSCRIBE: the node's subscriber connection reaches Redis late, as on a busy
 * network, while its command connection does not.
 */
async function slowSubscriberProxy(redisUrl: string, delayMs: number, defer: Defer): Promise<string> {
  const target = new URL(redisUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    let slow = false;
    client.on('data', (chunk) => {
      slow ||= /ssubscribe/i.test(chunk.toString('latin1'));
      if (slow) setTimeout(() => upstream.write(chunk), delayMs);
      else upstream.write(chunk);
    });
    upstream.pipe(client);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('a device that was told `authenticated`', () => {
  const defer = useCleanup();

  it('receives an event emitted at that moment, though the node subscribed to its room late', async () => {
    const prefix = uniquePrefix('first-moment');
    const redisUrl = await slowSubscriberProxy(inject('redisUrl'), 400, defer);
    const node = await startTestNode(prefix, defer, { redisUrl });
    const { redis } = useRedis(prefix, defer);
    const emitter = createShardedEmitter(redis, { channelPrefix: createKeys(prefix).socketIoChannelPrefix });
    const user = uniqueUser('first');

    const d = await device(node.url, defer, { token: mintToken(user) });
    const got = nextEvent(d, 'xp:gained', 3_000);
    emitter
      .to(`user:${user}`)
      .emit('xp:gained', { amount: 1, source: 'first', totalXp: 1 }, { id: 'f-1', ts: 1 });
    await emitter.send();
    expect(await got).toEqual([
      { amount: 1, source: 'first', totalXp: 1 },
      { id: 'f-1', ts: 1 },
    ]);
  });
});
