import { describe, expect, it } from 'vitest';
import type { DeliveryMeta, SyncAck } from '@herald/contracts';
import { appendEntry, type RedisClient, type RedisKeys } from '@herald/core';
import { connectError, mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { device, startTestNode, useCleanup, useRedis } from './support.js';

/** Sequences `count` events for `userId` as the publisher does: seq, inbox entry, stream entry. */
async function sequence(redis: RedisClient, keys: RedisKeys, userId: string, count: number, inboxMax = 500) {
  const items = Array.from({ length: count }, () => {
    const eventId = `${userId}-${Math.random().toString(36).slice(2)}`;
    return {
      eventId,
      part: 0,
      userIds: [userId],
      event: 'xp:gained',
      payload: { amount: 1, source: eventId, totalXp: 1 },
      publishedAt: Date.now(),
      idSupplied: false,
    };
  });
  await appendEntry(redis, keys, keys.partitionOf(userId), items, JSON.stringify(items), {
    inboxMax,
    inboxTtlS: 600,
  });
}

const seqsOf = (received: Array<{ event: string; args: unknown[] }>) =>
  received.filter((r) => r.event === 'xp:gained').map((r) => (r.args[1] as DeliveryMeta).seq);

describe('replay', () => {
  const defer = useCleanup();

  async function setup() {
    const prefix = uniquePrefix('replay');
    const { url } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    return { url, redis, keys };
  }

  it('sends a device that connects with auth.lastSeq what it missed, in order, marked replayed, after authenticated', async () => {
    const { url, redis, keys } = await setup();
    const user = uniqueUser('back');
    await sequence(redis, keys, user, 6);
    const d = await device(url, defer, { token: mintToken(user), auth: { lastSeq: 2, acks: true } });
    await waitFor(() => seqsOf(d.received).length === 4, { message: 'four replayed events' });
    expect(d.received[0]).toMatchObject({ event: 'authenticated', args: [{ userId: user, seq: 6 }] });
    expect(seqsOf(d.received)).toEqual([3, 4, 5, 6]);
    const metas = d.received.filter((r) => r.event === 'xp:gained').map((r) => r.args[1] as DeliveryMeta);
    expect(metas.every((m) => m.replayed === true && typeof m.id === 'string')).toBe(true);
    expect(d.received.some((r) => r.event === 'herald:gap')).toBe(false);
  });

  it('sends herald:gap first when the inbox no longer holds the start, then what it holds', async () => {
    const { url, redis, keys } = await setup();
    const user = uniqueUser('gap');
    await sequence(redis, keys, user, 10, 4);
    const d = await device(url, defer, { token: mintToken(user), auth: { lastSeq: 3 } });
    await waitFor(() => seqsOf(d.received).length === 4, { message: 'what the inbox holds' });
    const events = d.received.map((r) => r.event);
    expect(events.indexOf('herald:gap')).toBeLessThan(events.indexOf('xp:gained'));
    expect(d.received.find((r) => r.event === 'herald:gap')?.args[0]).toEqual({ fromSeq: 4, toSeq: 6 });
    expect(seqsOf(d.received)).toEqual([7, 8, 9, 10]);
  });

  it('replays on herald:sync and answers after the events, with the latest seq', async () => {
    const { url, redis, keys } = await setup();
    const user = uniqueUser('sync');
    const d = await device(url, defer, { token: mintToken(user) });
    await sequence(redis, keys, user, 3);
    const answer = (await d.socket.timeout(5_000).emitWithAck('herald:sync', { lastSeq: 1 })) as SyncAck;
    expect(answer).toEqual({ accepted: true, seq: 3, replayed: 2 });
    // The ack comes after the replayed events on the same socket.
    expect(seqsOf(d.received)).toEqual([2, 3]);
    const bad = (await d.socket.timeout(5_000).emitWithAck('herald:sync', { lastSeq: -1 })) as SyncAck;
    expect(bad).toMatchObject({ accepted: false, code: 'invalid_payload' });
  });

  it('ignores a cursor that belongs to another user, and refuses a malformed one', async () => {
    const { url, redis, keys } = await setup();
    const user = uniqueUser('switch');
    await sequence(redis, keys, user, 3);
    const d = await device(url, defer, {
      token: mintToken(user),
      auth: { lastSeq: 0, lastSeqUserId: 'someone-else' },
    });
    expect(d.received[0]).toMatchObject({ event: 'authenticated', args: [{ seq: 3 }] });
    const own = await device(url, defer, {
      token: mintToken(user),
      auth: { lastSeq: 0, lastSeqUserId: user },
    });
    await waitFor(() => seqsOf(own.received).length === 3, { message: 'own cursor replayed' });
    expect(seqsOf(d.received)).toEqual([]);
    expect(await connectError(url, { token: mintToken(user), auth: { lastSeq: 'yesterday' } })).toBe(
      'invalid_payload',
    );
  });

  it('stores herald:ack as the user’s highest acked seq', async () => {
    const { url, redis, keys } = await setup();
    const user = uniqueUser('acks');
    await sequence(redis, keys, user, 5);
    const [a, b] = [
      await device(url, defer, { token: mintToken(user), auth: { acks: true } }),
      await device(url, defer, { token: mintToken(user), auth: { acks: true } }),
    ];
    a.socket.emit('herald:ack', { seq: 4 });
    await waitFor(async () => (await redis.hget(keys.user(user), 'ack')) === '4', { message: 'ack stored' });
    b.socket.emit('herald:ack', { seq: 2 });
    b.socket.emit('herald:ack', { seq: 'x' });
    await waitFor(() => b.received.some((r) => r.event === 'error'), { message: 'bad ack refused' });
    expect(await redis.hget(keys.user(user), 'ack')).toBe('4');
    // The last ack before a device closes counts, even when the close is read with it.
    b.socket.emit('herald:ack', { seq: 5 });
    b.socket.disconnect();
    await waitFor(async () => (await redis.hget(keys.user(user), 'ack')) === '5', {
      message: 'last ack stored',
    });
  });
});
