import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { closeRedis, createKeys, createRedis, readStreamBacklog } from '@herald/core';
import { createPublisher, type Publisher } from '@herald/publisher';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  memoryStorage,
  range,
  recordClient,
  spawnDispatcher,
  spawnSocketNode,
  useCleanup,
  type Defer,
  type RecordedClient,
} from './support-fallback.js';

/** Publishes xp:gained numbered `from`.. to `userId`, one after another (each awaited). */
async function publishMany(publisher: Publisher, userId: string, from: number, count: number): Promise<void> {
  for (let n = from; n < from + count; n++) {
    await publisher.toUser(userId).emit('xp:gained', { amount: 1, source: `n${n}`, totalXp: n });
  }
}

/** A socket node and a dispatcher as child processes on a fresh prefix. */
async function startApps(defer: Defer) {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('g-f');
  const redis = createRedis(redisUrl);
  defer(() => closeRedis(redis));
  const [{ url }] = await Promise.all([
    spawnSocketNode({ redisUrl, prefix }, defer),
    spawnDispatcher({ redisUrl, prefix }, defer),
  ]);
  const keys = createKeys(prefix);
  /**
   * Resolves once the dispatcher has delivered every published event. A publish resolves
   * when its entry is appended; a device that reconnected before the dispatcher got to the
   * entry would get those events live, and its gap would (rightly) be narrower.
   */
  const dispatched = () =>
    waitFor(async () => (await readStreamBacklog(redis, keys)).settled, {
      timeoutMs: 30_000,
      message: 'the dispatcher delivered every published event',
    });
  return { redisUrl, prefix, redis, keys, url, dispatched };
}

/** What the app saw, as seqs and gaps in order: `[1, 2, {gap}, 18, …]`. */
function stream(device: RecordedClient): Array<number | { fromSeq: number; toSeq: number }> {
  return device.seen.map((s) =>
    s.kind === 'gap' ? { fromSeq: s.fromSeq, toSeq: s.toSeq } : (s.meta.seq as number),
  );
}

/**
 * Guarantee 3, beyond the window: a device whose cursor is older than what the user's
 * inbox still holds (trimmed past HERALD_INBOX_MAX, or expired after HERALD_INBOX_TTL_S)
 * is told so through `onGap`, with the exact range it lost, before the events the inbox
 * still has; then live events go on.
 */
describe('a cursor older than the inbox', () => {
  const defer = useCleanup();

  it('a trimmed inbox: onGap gets the lost range first, then the replay, then live events', async () => {
    const { redisUrl, prefix, url, dispatched } = await startApps(defer);
    const publisher = createPublisher({ redisUrl, prefix, inboxMax: 10 });
    defer(() => publisher.close());
    const user = uniqueUser('trim');
    const storage = memoryStorage();

    const before = recordClient(url, user, defer, { storage });
    await before.client.ready;
    await publishMany(publisher, user, 1, 2);
    await before.untilSeq(2);
    before.client.close();

    // 25 while the device is away; the inbox keeps the last 10 (seqs 18..27).
    await publishMany(publisher, user, 3, 25);
    await dispatched();
    const reconnectedAt = performance.now();
    const after = recordClient(url, user, defer, { storage });
    await after.untilSeq(27);
    expect(stream(after)).toEqual([{ fromSeq: 3, toSeq: 17 }, ...range(18, 27)]);
    expect(after.wire.map((w) => [w.seq, w.replayed])).toEqual(range(18, 27).map((seq) => [seq, true]));

    await publishMany(publisher, user, 28, 3);
    await after.untilSeq(30);
    expect(stream(after)).toEqual([{ fromSeq: 3, toSeq: 17 }, ...range(18, 30)]);
    // Live emits may cross on the wire (the dispatcher runs jobs concurrently); the handlers got them in order.
    expect(
      after.wire
        .slice(10)
        .map((w) => [w.seq, w.replayed])
        .sort(([a], [b]) => Number(a) - Number(b)),
    ).toEqual(range(28, 30).map((seq) => [seq, false]));
    // Payloads are the events published with those seqs: seq n carries totalXp n.
    expect(
      after.seen.flatMap((s) => (s.kind === 'event' ? [(s.payload as { totalXp: number }).totalXp] : [])),
    ).toEqual(range(18, 30));
    expect(after.errors).toEqual([]);
    const gapAt = after.seen[0]?.at ?? Number.NaN;
    process.stdout.write(
      `[guarantee f] trimmed inbox (max 10): cursor 2, 25 missed → onGap {3..17} ${(gapAt - reconnectedAt).toFixed(0)} ms after reconnecting, ` +
        `then ${after.wire.filter((w) => w.replayed).length} replayed (18..27), then ${after.wire.filter((w) => !w.replayed).length} live (28..30); ` +
        `${after.wire.length} emits on the wire, ${after.seqs().length} handled, ${after.gaps().length} gap\n`,
    );
  });

  it('an expired inbox: onGap gets every seq since the cursor, then live events', async () => {
    const { redisUrl, prefix, url, redis, keys, dispatched } = await startApps(defer);
    const publisher = createPublisher({ redisUrl, prefix, inboxTtlS: 1 });
    defer(() => publisher.close());
    const user = uniqueUser('expired');
    const storage = memoryStorage();

    const before = recordClient(url, user, defer, { storage });
    await before.client.ready;
    await publishMany(publisher, user, 1, 3);
    await before.untilSeq(3);
    before.client.close();

    await publishMany(publisher, user, 4, 3);
    await dispatched();
    // The inbox expires a second after its last append; the user's seq counter does not.
    await waitFor(async () => (await redis.exists(keys.inbox(user))) === 0, {
      timeoutMs: 10_000,
      message: 'the inbox expired',
    });
    expect(await redis.hget(keys.user(user), 'seq')).toBe('6');

    const after = recordClient(url, user, defer, { storage });
    await after.untilSeq(6);
    expect(stream(after)).toEqual([{ fromSeq: 4, toSeq: 6 }]);
    await publishMany(publisher, user, 7, 2);
    await after.untilSeq(8);
    expect(stream(after)).toEqual([{ fromSeq: 4, toSeq: 6 }, 7, 8]);
    expect(after.wire.map((w) => [w.seq, w.replayed]).sort(([a], [b]) => Number(a) - Number(b))).toEqual([
      [7, false],
      [8, false],
    ]);
    expect(after.errors).toEqual([]);
    process.stdout.write(
      `[guarantee f] expired inbox (TTL 1 s): cursor 3, 3 missed → onGap {4..6}, 0 replayed, then ${after.seqs().length} live (7..8)\n`,
    );
  });
});
