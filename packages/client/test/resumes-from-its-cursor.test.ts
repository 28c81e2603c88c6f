import { describe, expect, it } from 'vitest';
import { uniqueUser } from '@herald/testing';
import { DEFAULT_STORAGE_KEY } from '../src/index.js';
import { memoryStorage, publishMany, range, startClient, startStack, useCleanup } from './support.js';

describe('resuming from the cursor', () => {
  const defer = useCleanup();

  it('a client that comes back with the stored cursor gets every event it missed, once, in order, then live ones', async () => {
    const { urls, publisher } = await startStack(defer);
    const user = uniqueUser();
    const storage = memoryStorage();
    const first = startClient(urls[0]!, user, defer, { storage });
    await first.client.ready;
    await publishMany(publisher, user, 1, 20);
    await first.untilSeq(20);
    first.client.close();
    expect(JSON.parse(storage.getItem(DEFAULT_STORAGE_KEY)!)).toEqual({ userId: user, lastSeq: 20 });

    // Offline for 30 events, then the page loads again.
    await publishMany(publisher, user, 21, 30);
    const started = performance.now();
    const second = startClient(urls[0]!, user, defer, { storage });
    const authenticated = await second.client.ready;
    expect(authenticated.seq).toBe(50);
    await second.untilSeq(50);
    const catchUpMs = performance.now() - started;
    expect(second.seqs()).toEqual(range(21, 50));
    expect(second.seen.every((s) => s.kind === 'event' && s.meta.replayed === true)).toBe(true);
    expect(second.statuses[0]).toMatchObject({ state: 'connected', resumed: true, latestSeq: 50 });

    await publishMany(publisher, user, 51, 5);
    await second.untilSeq(55);
    expect(second.seqs()).toEqual(range(21, 55));
    expect(second.seen.slice(30).every((s) => s.kind === 'event' && s.meta.replayed === undefined)).toBe(
      true,
    );
    expect(second.gaps()).toEqual([]);
    expect(second.errors).toEqual([]);
    process.stdout.write(
      `[resume] 30 missed events handled ${catchUpMs.toFixed(0)} ms after the client was created\n`,
    );
  });

  it('a client without a cursor starts at the latest seq: nothing published before it connected is replayed', async () => {
    const { urls, publisher } = await startStack(defer);
    const user = uniqueUser();
    await publishMany(publisher, user, 1, 10);
    const device = startClient(urls[0]!, user, defer);
    expect((await device.client.ready).seq).toBe(10);
    expect(device.client.lastSeq).toBe(10);
    await publishMany(publisher, user, 11, 2);
    await device.untilSeq(12);
    expect(device.seqs()).toEqual([11, 12]);
  });

  it("another account on the same storage starts from its own latest seq and never gets the first account's events", async () => {
    const { urls, publisher } = await startStack(defer);
    const alice = uniqueUser('alice');
    const bob = uniqueUser('bob');
    const storage = memoryStorage();
    const asAlice = startClient(urls[0]!, alice, defer, { storage });
    await asAlice.client.ready;
    await publishMany(publisher, alice, 1, 5);
    await asAlice.untilSeq(5);
    asAlice.client.close();

    await publishMany(publisher, alice, 6, 5);
    await publishMany(publisher, bob, 1, 3);
    const asBob = startClient(urls[0]!, bob, defer, { storage });
    expect((await asBob.client.ready).userId).toBe(bob);
    expect(asBob.client.userId).toBe(bob);
    expect(asBob.client.lastSeq).toBe(3);
    expect(JSON.parse(storage.getItem(DEFAULT_STORAGE_KEY)!)).toEqual({ userId: bob, lastSeq: 3 });
    await publishMany(publisher, bob, 4, 1);
    await asBob.untilSeq(4);
    expect(asBob.seqs()).toEqual([4]);
    expect(asBob.seen.map((s) => s.kind === 'event' && (s.payload as { source: string }).source)).toEqual([
      'n4',
    ]);
  });
});
