import { describe, expect, it } from 'vitest';
import { userRoom } from '@herald/contracts';
import { startSocketNode } from '@herald/socket-node';
import {
  appendEntry,
  closeRedis,
  createKeys,
  createRedis,
  roomChannel,
  silentLogger,
  waitForReplicas,
} from '@herald/core';
import {
  TEST_JWT_SECRET,
  connectDevice,
  mintToken,
  startRedisCluster,
  uniquePrefix,
  uniqueUser,
  waitFor,
} from '@herald/testing';
import { range, startClient, useCleanup } from './support.js';

describe("when the master of a user's room channel fails over (Redis Cluster)", () => {
  const defer = useCleanup();

  it('the node subscribes again at the new master, tells its devices to resync, and the SDK replays what was emitted meanwhile', async () => {
    const cluster = await startRedisCluster();
    defer(() => cluster.stop());
    const redisUrl = `redis-cluster://${cluster.nodesEnv}`;
    const prefix = uniquePrefix('failover-resync');
    const keys = createKeys(prefix);
    const redis = createRedis(redisUrl);
    redis.on('error', () => undefined);
    defer(() => closeRedis(redis));
    const node = await startSocketNode({
      redisUrl,
      prefix,
      jwtSecret: TEST_JWT_SECRET,
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger(),
    });
    defer(() => node.close());
    const url = `http://127.0.0.1:${node.port}`;
    const user = uniqueUser('resync');
    const sdk = startClient(url, user, defer);
    await sdk.client.ready;
    const plain = await connectDevice(url, { token: mintToken(user) });
    defer(() => plain.close());

    // Three events sequenced into the inbox whose emits never reached the node (as if sent
    // while its subscriber was away), kept by a replica too, so the failover keeps them.
    const lost = range(1, 3).map((n) => ({
      eventId: `lost-${n}`,
      part: 0,
      userIds: [user],
      event: 'xp:gained',
      payload: { amount: n, source: 'resync', totalXp: n },
      publishedAt: Date.now(),
      idSupplied: false,
    }));
    const partition = keys.partitionOf(user);
    await appendEntry(redis, keys, partition, lost, JSON.stringify(lost), { inboxMax: 100, inboxTtlS: 600 });
    await waitForReplicas(redis, keys.stream(partition), 1, 2_000);
    expect(sdk.seqs()).toEqual([]);

    const channelMaster = cluster.masterOf(roomChannel(keys.socketIoChannelPrefix, userRoom(user)));
    const killedAt = performance.now();
    const { failoverMs } = await cluster.killMaster(channelMaster);
    await waitFor(() => plain.received.some((r) => r.event === 'herald:resync'), {
      timeoutMs: 15_000,
      message: 'the node asked its devices to resync',
    });
    const resyncMs = performance.now() - killedAt;
    await sdk.untilSeq(3);
    expect(sdk.seqs()).toEqual([1, 2, 3]);
    expect(sdk.sent).toContain('herald:sync');
    process.stdout.write(
      `[failover resync] room channel's master SIGKILLed: takeover ${failoverMs.toFixed(0)} ms, herald:resync ${resyncMs.toFixed(0)} ms after the kill\n`,
    );
  });
});
