import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createKeys } from '../src/keys.js';
import { PresenceReader, PresenceRegistry } from '../src/presence.js';
import { createRedis } from '../src/redis.js';
import type { RedisClient } from '../src/redis-client.js';

let redis: RedisClient;
beforeAll(() => {
  redis = createRedis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

describe('presence', () => {
  it('counts devices across registries and forgets a node that stops refreshing', async () => {
    const keys = createKeys(uniquePrefix());
    const nodeA = new PresenceRegistry({ redis, keys, nodeId: 'a', ttlMs: 1_000 });
    const nodeB = new PresenceRegistry({ redis, keys, nodeId: 'b', ttlMs: 60_000 });
    const reader = new PresenceReader(redis, keys);
    const [alice, bob, carol] = [uniqueUser(), uniqueUser(), uniqueUser()];

    await nodeA.add(alice, 's1');
    await nodeB.add(alice, 's2');
    await nodeB.add(bob, 's3');
    expect(await reader.devices(alice)).toBe(2);
    expect([...(await reader.onlineAmong([alice, bob, carol]))].sort()).toEqual([alice, bob].sort());

    await nodeB.remove(alice, 's2');
    expect(await reader.devices(alice)).toBe(1);

    // Node A "dies": no heartbeat, so its entry expires by score even though the key lingers.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await reader.isOnline(alice)).toBe(false);
    expect(await reader.isOnline(bob)).toBe(true);

    await nodeB.clearLocal();
    expect(await reader.isOnline(bob)).toBe(false);
  });

  it('keeps entries alive while the heartbeat runs', async () => {
    const keys = createKeys(uniquePrefix());
    const node = new PresenceRegistry({ redis, keys, nodeId: 'n', ttlMs: 1_000 });
    const user = uniqueUser();
    await node.add(user, 's1');
    node.startHeartbeat((error) => {
      throw error;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await new PresenceReader(redis, keys).isOnline(user)).toBe(true);
    await node.clearLocal();
  });

  it('refuses a ttl outside its range', () => {
    expect(() => new PresenceRegistry({ redis, keys: createKeys('{x}'), nodeId: 'n', ttlMs: 10 })).toThrow(
      /ttlMs/,
    );
  });
});
