import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys } from '@herald/core';
import { startRedisCluster, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  backlogOf,
  openRedis,
  printFigures,
  spawnDispatcher,
  startPublisher,
  useCleanup,
} from '../support.js';

const USERS = 1_000;

/** Normal clients connected to each node now (`CLIENT LIST TYPE normal`), by port. */
async function clientsPerNode(ports: readonly number[]): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const port of ports) {
    const admin = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    await admin.connect();
    const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal'));
    admin.disconnect();
    // Minus this admin connection itself.
    counts.set(port, list.split('\n').filter(Boolean).length - 1);
  }
  return counts;
}

describe('Herald on a Redis Cluster of 3 masters', () => {
  const defer = useCleanup();

  it('spreads the partitions of 1,000 users over every master, and one dispatcher reads them all', async () => {
    const cluster = await startRedisCluster();
    defer(() => cluster.stop());
    const where = { prefix: uniquePrefix('cluster-spread'), redisUrl: `redis-cluster://${cluster.nodesEnv}` };
    const keys = createKeys(where.prefix);
    const publisher = startPublisher(defer, where);
    const users = Array.from({ length: USERS }, (_, i) => uniqueUser(`c${i}`));
    await publisher
      .toUsers(users)
      .emit('xp:gained', { amount: 1, source: 'spread', totalXp: 1 }, { fallback: false });

    // Each master holds the keys of the partitions whose slots it owns, and every master owns some.
    const masters = cluster.nodes.filter((node) => node.role === 'master');
    expect(masters).toHaveLength(3);
    const partitionsOf = new Map<number, number[]>(masters.map((m) => [m.port, []]));
    for (const partition of keys.partitionNumbers) {
      partitionsOf.get(cluster.masterOf(keys.stream(partition)).port)?.push(partition);
    }
    const keysOnMaster = new Map<number, number>();
    for (const master of masters) {
      const admin = new Redis(master.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
      const found: string[] = [];
      for await (const batch of admin.scanStream({ match: `{${where.prefix.slice(1, -1)}:*`, count: 1_000 }))
        found.push(...(batch as string[]));
      admin.disconnect();
      keysOnMaster.set(master.port, new Set(found).size);
      const partitionsFound = new Set(found.map((key) => Number(/^\{[^}]*:(\d+)\}/.exec(key)?.[1])));
      expect([...partitionsFound].sort((a, b) => a - b)).toEqual(partitionsOf.get(master.port));
    }
    for (const master of masters) expect(keysOnMaster.get(master.port)).toBeGreaterThan(0);

    // A dispatcher on the cluster reads every partition (each on a connection of its own, since
    // a multi-stream XREADGROUP would span slots) and delivers the 16 entries.
    const redis = openRedis(defer, where);
    const backlog = backlogOf(where, redis);
    const ports = cluster.nodes.map((node) => node.port);
    const before = await clientsPerNode(ports);
    await spawnDispatcher(defer, where);
    await waitFor(async () => (await backlog()).settled, {
      timeoutMs: 30_000,
      message: 'every entry delivered',
    });
    const after = await clientsPerNode(ports);
    const added = ports.map((port) => (after.get(port) ?? 0) - (before.get(port) ?? 0));
    const total = added.reduce((sum, n) => sum + n, 0);
    expect((await backlog()).added).toBe(keys.partitions);
    // 16 blocking readers, plus the shared connection and the fallback queue's, on the masters only.
    expect(total).toBeGreaterThanOrEqual(keys.partitions + 2);
    printFigures(
      'cluster',
      `${USERS} users in ${keys.partitions} partitions: keys per master ${[...keysOnMaster.values()].join(', ')}, ` +
        `partitions per master ${masters.map((m) => partitionsOf.get(m.port)?.length).join(', ')}; ` +
        `one dispatcher opened ${total} connections (per node: ${added.join(', ')})`,
    );
  });
});
