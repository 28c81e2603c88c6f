import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { HeraldError } from '@herald/contracts';
import { createKeys } from '@herald/core';
import { startRedisCluster, uniquePrefix, uniqueUser, useCleanup } from '@herald/testing';
import { createPublisher } from '../src/index.js';

/** The pid of the redis-server on `port` and the port of the master it replicates (for a replica). */
async function serverOf(port: number): Promise<{ pid: number; masterPort: number | undefined }> {
  const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  try {
    const info = await admin.info();
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    const masterPort = /^master_port:(\d+)/m.exec(info)?.[1];
    return { pid, masterPort: masterPort === undefined ? undefined : Number(masterPort) };
  } finally {
    admin.disconnect();
  }
}

describe('waitReplicas on a Redis Cluster', () => {
  const defer = useCleanup();
  let stopped: number | undefined;
  afterEach(() => {
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    stopped = undefined;
  });

  it("resolves a publish only once its partition's master has a replica's ack: refused while that replica is stopped", async () => {
    const cluster = await startRedisCluster();
    defer(() => cluster.stop());
    const redisUrl = `redis-cluster://${cluster.nodesEnv}`;
    const prefix = uniquePrefix('wait-replicas');
    const keys = createKeys(prefix);
    const user = uniqueUser('w');
    const masterOfUser = (id: string) => cluster.masterOf(keys.stream(keys.partitionOf(id)));
    const master = masterOfUser(user);
    // More users of that master (a WAIT sent to another master would pass for some of them by
    // chance, never for all), and one of another master (its replica keeps running).
    const sameMaster: string[] = [];
    let otherMaster: string | undefined;
    while (sameMaster.length < 3 || otherMaster === undefined) {
      const id = uniqueUser('w');
      if (masterOfUser(id).port === master.port) sameMaster.push(id);
      else otherMaster ??= id;
    }
    const replicas = await Promise.all(
      cluster.nodes
        .filter((node) => node.role === 'replica')
        .map(async (node) => ({ node, ...(await serverOf(node.port)) })),
    );
    const replica = replicas.find((r) => r.masterPort === master.port);
    expect(replica).toBeDefined();

    const waiting = createPublisher({ redisUrl, prefix, waitReplicas: 1, redisTimeoutMs: 1_000 });
    const notWaiting = createPublisher({ redisUrl, prefix, redisTimeoutMs: 1_000 });
    defer(() => Promise.all([waiting.close(), notWaiting.close()]));
    const emit = (publisher: typeof waiting, n: number, to = user) =>
      publisher.toUser(to).emit('xp:gained', { amount: 1, source: 'wait', totalXp: n }, { fallback: false });
    const refusalOf = (publishing: Promise<unknown>) =>
      publishing.then(
        () => undefined,
        (error: unknown) => error,
      );

    // Replica in sync: both resolve.
    await emit(waiting, 1);
    await emit(notWaiting, 2);

    // The replica frozen (SIGSTOP: it takes nothing from its master): the master still takes the
    // append, but WAIT 1 counts no replica, so the publish is refused; one without WAIT resolves.
    stopped = replica!.pid;
    process.kill(stopped, 'SIGSTOP');
    const startedAt = performance.now();
    const refusal = await refusalOf(emit(waiting, 3));
    const refusedAfterMs = performance.now() - startedAt;
    expect(refusal).toBeInstanceOf(HeraldError);
    expect((refusal as HeraldError).code).toBe('unavailable');
    expect((refusal as HeraldError).message).toMatch(/0 of 1 replicas confirmed the write within 750 ms/);
    // Publishes in one batch to several partitions of that master share one WAIT (a WAIT per
    // entry would queue on the connection, a timeout each): all refused within the deadline.
    const others = await Promise.all(sameMaster.map((id) => refusalOf(emit(waiting, 3, id))));
    for (const error of others)
      expect((error as Error | undefined)?.message).toMatch(/0 of 1 replicas confirmed/);
    await emit(waiting, 3, otherMaster);
    await emit(notWaiting, 4);

    // Thawed: the replica catches up and a waiting publish resolves again.
    process.kill(stopped, 'SIGCONT');
    stopped = undefined;
    await emit(waiting, 5);
    process.stdout.write(
      `[wait-replicas] a publish with waitReplicas 1 was refused after ${refusedAfterMs.toFixed(0)} ms while the replica was stopped: ${(refusal as Error).message}\n`,
    );
  });
});
