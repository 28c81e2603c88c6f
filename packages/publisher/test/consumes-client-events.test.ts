import { afterEach, describe, expect, inject, it } from 'vitest';
import type { ClientEventRecord } from '@herald/contracts';
import { appendClientEvent, closeRedis, createKeys, createRedis } from '@herald/core';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { createPublisher } from '../src/index.js';

const redisUrl = inject('redisUrl');

describe('consumeClientEvents', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  it('hands client events appended by socket nodes to the domain service, each once', async () => {
    const prefix = uniquePrefix('client-events');
    const redis = createRedis(redisUrl);
    cleanup.push(() => closeRedis(redis));
    const publisher = createPublisher({ redisUrl, prefix });
    cleanup.push(() => publisher.close());
    const userId = uniqueUser();
    const received: ClientEventRecord[] = [];

    // Appended before the consumer starts: a new group reads what the stream holds.
    await appendClientEvent(redis, createKeys(prefix), {
      type: 'notification:mark_read',
      userId,
      payload: { notificationId: 'n-1' },
      socketId: 's-1',
      nodeId: 'node-a',
    });
    const consumer = publisher.consumeClientEvents((event) => void received.push(event), { blockMs: 200 });
    await appendClientEvent(redis, createKeys(prefix), {
      type: 'notification:mark_read',
      userId,
      payload: { notificationId: 'n-2' },
      socketId: 's-1',
      nodeId: 'node-a',
    });

    await waitFor(() => received.length >= 2, { message: 'both client events consumed' });
    expect(received.map((e) => [e.type, e.userId, e.payload])).toEqual([
      ['notification:mark_read', userId, { notificationId: 'n-1' }],
      ['notification:mark_read', userId, { notificationId: 'n-2' }],
    ]);
    // Acked: nothing left pending for the group.
    await waitFor(
      async () => {
        const pending = (await redis.xpending(createKeys(prefix).clientEvents, 'domain')) as [
          number,
          ...unknown[],
        ];
        return pending[0] === 0;
      },
      { message: 'no pending entries' },
    );
    await consumer.stop();
  });

  it('stops its consumers when the publisher closes', async () => {
    const prefix = uniquePrefix('client-events');
    const redis = createRedis(redisUrl);
    cleanup.push(() => closeRedis(redis));
    const publisher = createPublisher({ redisUrl, prefix });
    const received: ClientEventRecord[] = [];
    publisher.consumeClientEvents((event) => void received.push(event), { blockMs: 200 });
    await publisher.close();

    await appendClientEvent(redis, createKeys(prefix), {
      type: 'notification:mark_read',
      userId: uniqueUser(),
      payload: { notificationId: 'late' },
      socketId: 's',
      nodeId: 'n',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received).toEqual([]);
  });
});
