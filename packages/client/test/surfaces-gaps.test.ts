import { describe, expect, it } from 'vitest';
import { InboxEntry } from '@herald/contracts';
import { uniqueUser } from '@herald/testing';
import {
  deliverFromInbox,
  memoryStorage,
  publishMany,
  range,
  startClient,
  startStack,
  useCleanup,
} from './support.js';

describe('gaps and missing seqs', () => {
  const defer = useCleanup();

  it('a cursor older than the inbox: the app gets the gap before the events the inbox still has, then live events go on', async () => {
    const { urls, publisher } = await startStack(defer, { publisherOptions: { inboxMax: 10 } });
    const user = uniqueUser();
    const storage = memoryStorage();
    const first = startClient(urls[0]!, user, defer, { storage });
    await first.client.ready;
    await publishMany(publisher, user, 1, 2);
    await first.untilSeq(2);
    first.client.close();

    // 25 more while offline; the inbox keeps the last 10 (seqs 18..27).
    await publishMany(publisher, user, 3, 25);
    const second = startClient(urls[0]!, user, defer, { storage });
    await second.client.ready;
    await second.untilSeq(27);
    expect(second.seen[0]).toEqual({ kind: 'gap', fromSeq: 3, toSeq: 17 });
    expect(second.seqs()).toEqual(range(18, 27));

    await publishMany(publisher, user, 28, 3);
    await second.untilSeq(30);
    expect(second.seqs()).toEqual(range(18, 30));
    expect(second.gaps()).toEqual([{ fromSeq: 3, toSeq: 17 }]);
    expect(second.errors).toEqual([]);
    // The node's herald:gap was enough: the client did not have to ask.
    expect(second.sent).not.toContain('herald:sync');
  });

  it('events that arrive out of order reach handlers in seq order, without asking the node', async () => {
    const stack = await startStack(defer, { dispatcher: false });
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer, { reorderWaitMs: 10_000 });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 4);
    // As two dispatcher replicas may emit them.
    await deliverFromInbox(stack, user, [2, 1, 4, 3]);
    await device.untilSeq(4);
    expect(device.seqs()).toEqual([1, 2, 3, 4]);
    expect(device.wire).toHaveLength(4);
    expect(device.sent).not.toContain('herald:sync');
  });

  it('a live event that never came is fetched from the inbox by a sync after the reorder wait', async () => {
    const stack = await startStack(defer, { dispatcher: false });
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer, { reorderWaitMs: 100 });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 4);
    // Seq 1 is lost on the wire: 2..4 wait for it, then the sync replays 1..4.
    await deliverFromInbox(stack, user, [2, 3, 4]);
    await device.untilSeq(4);
    expect(device.seqs()).toEqual([1, 2, 3, 4]);
    expect(device.seen.map((s) => s.kind === 'event' && s.meta.replayed === true)).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(device.gaps()).toEqual([]);
    expect(device.errors).toEqual([]);
    // 3 live, then the sync's replay of 1..4, whose 2..4 are dropped as copies.
    expect(device.wire).toHaveLength(7);
    expect(device.sent.filter((e) => e === 'herald:sync')).toHaveLength(1);
  });

  it('events the node can no longer replay when the device syncs become a gap in their place, and the stream goes on', async () => {
    const stack = await startStack(defer, { dispatcher: false });
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer, { reorderWaitMs: 100 });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 6);
    await deliverFromInbox(stack, user, [1, 2, 3]);
    await device.untilSeq(3);
    // 4 and 5 are lost on the wire and the inbox expired meanwhile; then 6 arrives.
    const six = InboxEntry.parse(JSON.parse((await stack.redis.lindex(stack.keys.inbox(user), -1))!));
    expect(six.seq).toBe(6);
    await stack.redis.del(stack.keys.inbox(user));
    stack.emitter.to(`user:${user}`).emit(six.event, six.payload, { id: six.id, seq: six.seq, ts: six.ts });
    await stack.emitter.send();
    await device.untilSeq(6);
    expect(device.seen.slice(3).map((s) => (s.kind === 'gap' ? s : s.meta.seq))).toEqual([
      { kind: 'gap', fromSeq: 4, toSeq: 5 },
      6,
    ]);
    await publishMany(stack.publisher, user, 7, 2);
    await deliverFromInbox(stack, user, [7, 8]);
    await device.untilSeq(8);
    expect(device.seqs()).toEqual([1, 2, 3, 6, 7, 8]);
    expect(device.errors).toEqual([]);
    // One sync: its answer (the node's gap, then seq 6's copy) closed the hole.
    expect(device.sent.filter((e) => e === 'herald:sync')).toHaveLength(1);
  });
});
