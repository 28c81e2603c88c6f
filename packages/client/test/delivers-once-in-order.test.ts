import { describe, expect, it } from 'vitest';
import { prng, sleep, uniqueUser, waitFor } from '@herald/testing';
import { publishMany, range, startClient, startStack, useCleanup } from './support.js';

describe('delivery to handlers', () => {
  const defer = useCleanup();

  it('hands 300 events published one after another to the handlers of two devices on two nodes once each, in publish order, async handlers awaited', async () => {
    const { urls, publisher } = await startStack(defer, { nodes: 2 });
    const user = uniqueUser();
    const a = startClient(urls[0]!, user, defer);
    const b = startClient(urls[1]!, user, defer);
    await Promise.all([a.client.ready, b.client.ready]);
    // An async handler that takes a random while: the next event must wait for it.
    const random = prng(7);
    const afterAwait: number[] = [];
    b.client.on('xp:gained', async (_payload, meta) => {
      await sleep(Math.floor(random() * 3));
      afterAwait.push(meta.seq!);
    });

    await publishMany(publisher, user, 1, 300);
    await Promise.all([a.untilSeq(300), b.untilSeq(300)]);

    for (const device of [a, b]) {
      expect(device.seqs()).toEqual(range(1, 300));
      // Publish order: the n-th published event carries totalXp n.
      expect(
        device.seen.map((s) => (s.kind === 'event' ? (s.payload as { totalXp: number }).totalXp : 0)),
      ).toEqual(range(1, 300));
      expect(device.errors).toEqual([]);
      expect(device.gaps()).toEqual([]);
    }
    expect(afterAwait).toEqual(range(1, 300));
  });

  it('hands each event once and in order across a lost transport and a server-side disconnect mid-stream, however many copies the wire carried', async () => {
    const { urls, nodes, publisher } = await startStack(defer, { nodes: 1 });
    const user = uniqueUser();
    const device = startClient(urls[0]!, user, defer);
    await device.client.ready;

    const total = 400;
    const publishing = publishMany(publisher, user, 1, total);
    // The connection drops (the node closes the transport): socket.io-client reconnects by itself.
    await device.untilSeq(100);
    for (const socket of nodes[0]!.io.sockets.sockets.values()) socket.conn.close();
    // The node drops the socket: socket.io-client does not retry that one; the client does.
    await device.untilSeq(250);
    nodes[0]!.io.in(`user:${user}`).disconnectSockets(true);
    await publishing;
    await device.untilSeq(total, 30_000);

    expect(device.seqs()).toEqual(range(1, total));
    expect(device.gaps()).toEqual([]);
    expect(device.errors.filter((e) => e.source !== 'connection')).toEqual([]);
    const reasons = device.statuses.flatMap((s) => (s.state === 'disconnected' ? [s.reason] : []));
    expect(reasons).toEqual(['transport close', 'io server disconnect']);
    expect(device.statuses.filter((s) => s.state === 'connected')).toHaveLength(3);
    const replayed = device.seen.filter((s) => s.kind === 'event' && s.meta.replayed).length;
    process.stdout.write(
      `[once, in order] ${total} events: ${device.wire.length} on the wire (${device.wire.length - total} copies dropped), ${replayed} handled from a replay\n`,
    );
  });

  it('hands a broadcast once even when the same event id arrives twice, and room events do not move the cursor', async () => {
    const { urls, emitter, publisher } = await startStack(defer);
    const user = uniqueUser();
    const device = startClient(urls[0]!, user, defer);
    await device.client.ready;
    const meta = { id: 'broadcast-1', ts: Date.now() };
    const payload = { amount: 1, source: 'everyone', totalXp: 1 };
    // Two copies on the wire, as a retried emit would produce.
    emitter.emit('xp:gained', payload, meta);
    emitter.emit('xp:gained', payload, meta);
    await emitter.send();
    await publishMany(publisher, user, 1, 1);
    await device.untilSeq(1);
    await waitFor(() => device.wire.length === 3, { message: 'both copies and the user event arrived' });
    const broadcasts = device.seen.filter((s) => s.kind === 'event' && s.meta.id === 'broadcast-1');
    expect(broadcasts).toHaveLength(1);
    expect(device.seqs()).toEqual([1]);
    expect(device.client.lastSeq).toBe(1);
  });
});
