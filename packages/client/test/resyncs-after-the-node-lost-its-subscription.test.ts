import { describe, expect, it } from 'vitest';
import { startSocketNode } from '@herald/socket-node';
import { closeRedis, createKeys, createRedis, appendEntry, silentLogger } from '@herald/core';
import {
  TEST_JWT_SECRET,
  connectDevice,
  mintToken,
  startRedisServer,
  uniquePrefix,
  uniqueUser,
  waitFor,
} from '@herald/testing';
import { range, startClient, useCleanup } from './support.js';

describe('when a node loses its Redis subscription', () => {
  const defer = useCleanup();

  it('tells its devices to resync, and the SDK replays what was emitted meanwhile', async () => {
    // A Redis of its own: the test drops every pub/sub connection on it.
    const server = await startRedisServer();
    defer(() => server.stop());
    const prefix = uniquePrefix('resync');
    const keys = createKeys(prefix);
    const redis = createRedis(server.url);
    defer(() => closeRedis(redis));
    const node = await startSocketNode({
      redisUrl: server.url,
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

    // Three events sequenced into the inbox whose emits never reached the node (its
    // subscription was away): nothing on the wire, and no later event to reveal the hole.
    const lost = range(1, 3).map((n) => ({
      eventId: `lost-${n}`,
      part: 0,
      userIds: [user],
      event: 'xp:gained',
      payload: { amount: n, source: 'resync', totalXp: n },
      publishedAt: Date.now(),
      idSupplied: false,
    }));
    await appendEntry(redis, keys, keys.partitionOf(user), lost, JSON.stringify(lost), {
      inboxMax: 100,
      inboxTtlS: 600,
    });
    expect(sdk.seqs()).toEqual([]);

    await redis.client('KILL', 'TYPE', 'pubsub');
    await waitFor(() => plain.received.some((r) => r.event === 'herald:resync'), {
      message: 'the node asked its devices to resync',
    });
    await sdk.untilSeq(3);
    expect(sdk.seqs()).toEqual([1, 2, 3]);
    expect(sdk.sent).toContain('herald:sync');
  });
});
