import { describe, expect, it } from 'vitest';
import { userRoom } from '@herald/contracts';
import { roomChannel, waitForReplicas } from '@herald/core';
import { startRedisCluster, waitFor } from '@herald/testing';
import { startResyncScene, useCleanup } from './support.js';

describe("when the master of a user's room channel fails over (Redis Cluster)", () => {
  const defer = useCleanup();

  it('the node subscribes again at the new master, tells its devices to resync, and the SDK replays what was emitted meanwhile', async () => {
    const cluster = await startRedisCluster();
    defer(() => cluster.stop());
    const { redis, keys, user, sdk, plain, appendUnheard } = await startResyncScene(
      defer,
      `redis-cluster://${cluster.nodesEnv}`,
      'failover-resync',
    );

    // Three events whose emits never reached the node (as if sent while its subscriber was
    // away), kept by a replica too, so the failover keeps them.
    await appendUnheard(3);
    const partition = keys.partitionOf(user);
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
