import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import { PresenceRegistry, closeRedis, createKeys, createRedis, type RedisClient } from '@herald/core';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, createWebSocketService, type Publisher } from '../src/index.js';

const redisUrl = inject('redisUrl');

describe('presence through the publisher', () => {
  let prefix: string;
  let redis: RedisClient;
  let publisher: Publisher;

  beforeEach(() => {
    prefix = uniquePrefix('presence');
    redis = createRedis(redisUrl);
    // Reuses the caller's connection: close() must leave it open.
    publisher = createPublisher({ connection: redis, prefix });
  });

  afterEach(async () => {
    await publisher.close();
    await closeRedis(redis);
  });

  it('reflects entries socket nodes write: devices across nodes, offline once they leave', async () => {
    const keys = createKeys(prefix);
    const nodeA = new PresenceRegistry({ redis, keys, nodeId: 'node-a' });
    const nodeB = new PresenceRegistry({ redis, keys, nodeId: 'node-b' });
    const userId = uniqueUser();
    const ws = createWebSocketService(publisher);

    expect(await publisher.presence(userId)).toEqual({ online: false, devices: 0 });
    expect(await ws.isUserConnected(userId)).toBe(false);

    await nodeA.add(userId, 'socket-1');
    await nodeB.add(userId, 'socket-2');
    expect(await publisher.presence(userId)).toEqual({ online: true, devices: 2 });
    expect(await publisher.isUserConnected(userId)).toBe(true);
    expect(await ws.isUserConnected(userId)).toBe(true);

    await nodeA.remove(userId, 'socket-1');
    expect(await publisher.presence(userId)).toEqual({ online: true, devices: 1 });

    await nodeB.clearLocal();
    expect(await publisher.presence(userId)).toEqual({ online: false, devices: 0 });
    expect(await ws.isUserConnected(userId)).toBe(false);
  });

  it('does not count expired entries (a node that died without cleanup)', async () => {
    const userId = uniqueUser();
    await redis.zadd(createKeys(prefix).presence(userId), Date.now() - 1, 'dead-node|socket-x');
    expect(await publisher.presence(userId)).toEqual({ online: false, devices: 0 });
  });

  it('refuses an invalid user id with a HeraldError naming userId', async () => {
    const error: unknown = await publisher.presence('has space').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).issues[0]?.path).toBe('userId');
  });

  it('leaves a passed connection open on close', async () => {
    await publisher.close();
    expect(await redis.ping()).toBe('PONG');
  });
});
