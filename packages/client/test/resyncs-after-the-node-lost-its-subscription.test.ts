import { describe, expect, it } from 'vitest';
import { startRedisServer, waitFor } from '@herald/testing';
import { startResyncScene, useCleanup } from './support.js';

describe('when a node loses its Redis subscription', () => {
  const defer = useCleanup();

  it('tells its devices to resync, and the SDK replays what was emitted meanwhile', async () => {
    // A Redis of its own: the test drops every pub/sub connection on it.
    const server = await startRedisServer();
    defer(() => server.stop());
    const { redis, sdk, plain, appendUnheard } = await startResyncScene(defer, server.url, 'resync');

    // Three events whose emits never reached the node (its subscription was away): nothing
    // on the wire, and no later event to reveal the hole.
    await appendUnheard(3);
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
