import { describe, expect, it } from 'vitest';
import type { ClientEventRecord } from '@herald/contracts';
import { consumeClientEvents, silentLogger } from '@herald/core';
import { mintToken, sleep, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';

describe('notification:mark_read', () => {
  const defer = useCleanup();

  async function setup() {
    const prefix = uniquePrefix('mark');
    const { url, node } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const consumed: ClientEventRecord[] = [];
    const consumer = consumeClientEvents((record) => void consumed.push(record), {
      redis,
      keys,
      logger: silentLogger(),
      blockMs: 200,
    });
    defer(() => consumer.stop());
    const streamEntries = async () =>
      ((await redis.xrange(keys.clientEvents, '-', '+')) as Array<[string, string[]]>).map(([, fields]) => {
        const map: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
        return map;
      });
    return { url, node, redis, keys, consumed, streamEntries };
  }

  it('appends a valid event with the token userId, acks it, and domain services consume it', async () => {
    const { url, node, consumed, streamEntries } = await setup();
    const user = uniqueUser();
    const d = await device(url, defer, { token: mintToken(user) });

    const ack = await d.socket
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n-1' });
    expect(ack).toEqual({ accepted: true });

    const entries = await streamEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      type: 'notification:mark_read',
      userId: user,
      payload: JSON.stringify({ notificationId: 'n-1' }),
      socketId: d.socket.id,
      nodeId: node.nodeId,
    });

    await waitFor(() => consumed.length === 1, { message: 'consumer received the event' });
    expect(consumed[0]).toMatchObject({
      type: 'notification:mark_read',
      userId: user,
      payload: { notificationId: 'n-1' },
      socketId: d.socket.id,
      nodeId: node.nodeId,
    });
    // Without an ack callback it is appended all the same.
    d.socket.emit('notification:mark_read', { notificationId: 'n-2' });
    await waitFor(() => consumed.length === 2, { message: 'second event consumed' });
    expect(consumed[1]).toMatchObject({ userId: user, payload: { notificationId: 'n-2' } });
    expect(d.payloads('error')).toEqual([]);
  });

  it('refuses a payload that names a userId (the schema is strict), so no one can mark for someone else', async () => {
    const { url, streamEntries } = await setup();
    const user = uniqueUser();
    const victim = uniqueUser('victim');
    const d = await device(url, defer, { token: mintToken(user) });

    const errorEvent = nextEvent(d, 'error');
    const ack = await d.socket
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n-1', userId: victim });
    expect(ack).toMatchObject({
      accepted: false,
      code: 'invalid_payload',
      message: expect.stringMatching(/userId/),
    });
    expect((await errorEvent)[0]).toMatchObject({
      code: 'invalid_payload',
      message: expect.stringMatching(/userId/),
    });
    expect(await streamEntries()).toEqual([]);

    // The same id without the extra field goes through, under the token's user.
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n-1' }),
    ).toEqual({
      accepted: true,
    });
    const entries = await streamEntries();
    expect(entries.map((e) => e.userId)).toEqual([user]);
  });

  it('answers invalid payloads with an error event and keeps serving every device', async () => {
    const { url, redis, keys, streamEntries } = await setup();
    const user = uniqueUser();
    const bystander = uniqueUser('bystander');
    const d = await device(url, defer, { token: mintToken(user) });
    const other = await device(url, defer, { token: mintToken(bystander), transports: ['polling'] });

    const invalid: unknown[] = [
      {},
      { notificationId: 5 },
      { notificationId: 'x'.repeat(10_000) },
      { notificationId: '' },
      null,
      'n-1',
      [1, 2],
    ];
    for (const payload of invalid) d.socket.emit('notification:mark_read', payload);
    d.socket.emit('notification:mark_read'); // no payload at all
    await waitFor(() => d.payloads('error').length === invalid.length + 1, {
      message: 'one error per invalid payload',
    });
    for (const error of d.payloads('error')) {
      expect(error).toEqual({
        code: 'invalid_payload',
        message: expect.stringMatching(/^Invalid notification:mark_read payload/),
      });
    }
    // A huge value is not echoed back whole.
    expect(JSON.stringify(d.payloads('error')).length).toBeLessThan(5_000);
    expect(await streamEntries()).toEqual([]);
    expect(other.payloads('error')).toEqual([]);

    // The node still delivers to another device and still takes valid events from the first.
    const emitter = createEmitter(redis, keys);
    const delivered = nextEvent(other, 'notification:new');
    await emitter
      .to(`user:${bystander}`)
      .emit('notification:new', { notification: { title: 'still here' } }, { id: 'e1', ts: 1 });
    expect((await delivered)[0]).toEqual({ notification: { title: 'still here' } });
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'ok' }),
    ).toEqual({
      accepted: true,
    });
  });

  it('answers an unknown event name with unknown_event, even one named "error"', async () => {
    const { url, streamEntries } = await setup();
    const d = await device(url, defer, { token: mintToken(uniqueUser()) });

    const first = nextEvent(d, 'error');
    d.socket.emit('notification:delete_everything', { notificationId: 'n-1' });
    expect((await first)[0]).toMatchObject({
      code: 'unknown_event',
      message: expect.stringMatching(/delete_everything/),
    });

    expect(await d.socket.timeout(5_000).emitWithAck('whatever', 1, 2)).toMatchObject({
      accepted: false,
      code: 'unknown_event',
    });

    // A client-sent "error" is just another unknown event (Socket.IO keeps a no-op listener so it cannot throw).
    const third = nextEvent(d, 'error');
    d.socket.emit('error', { boom: true });
    expect((await third)[0]).toMatchObject({ code: 'unknown_event' });

    await sleep(50);
    expect(d.socket.connected).toBe(true);
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n-9' }),
    ).toEqual({
      accepted: true,
    });
    expect(await streamEntries()).toHaveLength(1);
  });
});
