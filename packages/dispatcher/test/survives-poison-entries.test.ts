import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { appendEntry, createLogger, type RedisClient, type RedisKeys } from '@herald/core';
import { mintToken, uniqueUser, waitFor } from '@herald/testing';
import { device, published, startStack, useCleanup } from './support.js';

/** The entries of a partition's dead stream, as field maps. */
async function deadEntries(redis: RedisClient, keys: RedisKeys, partition: number) {
  const entries = (await redis.xrange(keys.deadStream(partition), '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
    return out;
  });
}

function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    }),
  });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, parsed };
}

describe('poison stream entries', () => {
  const defer = useCleanup();

  it('moves an entry with bad data to the dead stream at once, logs it, and keeps delivering', async () => {
    const { logger, parsed } = capturedLogger();
    const { urls, publisher, redis, keys } = await startStack(defer, {
      nodes: 1,
      logger,
      // One entry at a time: the valid event can only be delivered if the poison entry got out of its way.
      dispatcherOptions: { concurrency: 1 },
    });
    const user = uniqueUser('p');
    const partition = keys.partitionOf(user);
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });

    const poisonId = (await redis.xadd(
      keys.stream(partition),
      '*',
      'events',
      JSON.stringify([
        { eventId: 'bad-1', event: 'notification:new', target: { kind: 'users', userIds: [] } },
      ]),
      'seqs',
      '',
    )) as string;
    const id = await publisher
      .toUser(user)
      .emit('notification:new', { notification: { title: 'Still here' } });

    await waitFor(() => d.payloads('notification:new').length === 1, { message: 'valid event delivered' });
    expect(published(d)[0]?.args[1]).toMatchObject({ id });

    const [dead] = await waitFor(async () => {
      const found = await deadEntries(redis, keys, partition);
      return found.length > 0 ? found : undefined;
    });
    expect(dead?.sourceId).toBe(poisonId);
    expect(dead?.reason).toMatch(/^invalid_entry: /);
    expect(dead?.reason).toContain('events.0.target.userIds');
    expect(dead?.reason).toContain('events.0.publishedAt');
    // The entry's own fields are kept beside the reason, to be looked at or replayed by hand.
    expect(dead?.events).toContain('bad-1');
    // Acknowledged: nothing of it is pending.
    expect((await redis.xpending(keys.stream(partition), 'dispatchers'))[0]).toBe(0);

    const logged = await waitFor(() => parsed().find((l) => l.id === poisonId));
    expect(logged.msg).toContain('dead stream');
    expect(logged.partition).toBe(partition);
  });

  it('delivers the valid events of an entry with a bad item, then dead-letters it naming the item', async () => {
    const { urls, publisher, redis, keys } = await startStack(defer, { nodes: 1 });
    const user = uniqueUser('pb');
    const partition = keys.partitionOf(user);
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });
    const good = (eventId: string) => ({
      eventId,
      event: 'notification:new',
      payload: { notification: { title: eventId } },
      target: { kind: 'users', userIds: [user] },
      fallback: null,
      publishedAt: Date.now(),
      part: { index: 0, count: 1 },
    });
    // Sequenced and appended as the publisher does; the invalid item gets no user (no seq,
    // no inbox entry) but keeps its place.
    const items = [good('ok-1'), { ...good('bad-2'), event: 'disconnect' }, good('ok-3')];
    await appendEntry(
      redis,
      keys,
      partition,
      items.map((item) => ({
        ...item,
        part: 0,
        userIds: item.eventId.startsWith('ok') ? [user] : [],
        idSupplied: false,
      })),
      JSON.stringify(items),
      { inboxMax: 10, inboxTtlS: 60 },
    );
    await redis.xadd(keys.stream(partition), '*', 'nope', '1');

    await waitFor(() => d.payloads('notification:new').length === 2, { message: 'valid items delivered' });
    expect(published(d).map((r) => (r.args[1] as { id: string }).id)).toEqual(['ok-1', 'ok-3']);
    const dead = await waitFor(async () => {
      const found = await deadEntries(redis, keys, partition);
      return found.length === 2 ? found : undefined;
    });
    // Delivered concurrently: the dead stream holds them in the order they finished.
    expect(dead.map((e) => e.reason).sort()).toEqual([
      'invalid_entry: events.1.event: "disconnect" is reserved by Socket.IO',
      'invalid_entry: expected the fields events and seqs',
    ]);

    // The stream keeps flowing.
    const id = await publisher.toUser(user).emit('notification:new', { notification: { title: 'after' } });
    await waitFor(() => d.payloads('notification:new').length === 3, { message: 'later event delivered' });
    expect(published(d)[2]?.args[1]).toMatchObject({ id });
  });

  it('claims an entry whose delivery keeps failing, and dead-letters it after maxDeliveries', async () => {
    const { logger, parsed } = capturedLogger();
    const { urls, publisher, redis, keys } = await startStack(defer, {
      nodes: 1,
      logger,
      dispatcherOptions: { lockMs: 1_000, maxDeliveries: 3 },
    });
    const [broken, fine] = [uniqueUser('broken'), uniqueUser('fine')];
    const d = await device(urls[0] as string, defer, { token: mintToken(fine) });
    // A presence key of the wrong type: reading it fails every time the entry is delivered.
    await redis.set(keys.presence(broken), 'not-a-zset');
    const brokenId = await publisher
      .toUser(broken)
      .emit('notification:new', { notification: { title: 'x' } });
    await publisher.toUser(fine).emit('notification:new', { notification: { title: 'fine' } });
    await waitFor(() => d.payloads('notification:new').length === 1, {
      message: 'the other event delivered',
    });

    const partition = keys.partitionOf(broken);
    const [dead] = await waitFor(
      async () => {
        const found = await deadEntries(redis, keys, partition);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 15_000, message: 'dead-lettered after 3 deliveries' },
    );
    expect(dead?.reason).toBe('delivered 3 times without an acknowledgement');
    expect(dead?.events).toContain(brokenId);
    const retries = parsed().filter((l) => String(l.msg).includes('will be retried'));
    expect(retries.length).toBeGreaterThanOrEqual(3);
    expect((await redis.xpending(keys.stream(partition), 'dispatchers'))[0]).toBe(0);
  });
});
