import { describe, expect, it } from 'vitest';
import { readAckedSeqs } from '@herald/core';
import { sleep, uniqueUser, waitFor } from '@herald/testing';
import { publishMany, range, startClient, startStack, useCleanup, type Stack } from './support.js';

async function ackedSeq(stack: Stack, userId: string): Promise<number> {
  return (await readAckedSeqs(stack.redis, stack.keys, [userId])).get(userId) ?? 0;
}

describe('acks', () => {
  const defer = useCleanup();

  /** A device that handled seqs 1-3 and holds their ack back: its delay is a minute. */
  async function deviceHoldingItsAck(stack: Stack) {
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer, { ackDelayMs: 60_000 });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 3);
    await device.untilSeq(3);
    expect(await ackedSeq(stack, user)).toBe(0);
    return { user, device };
  }

  it('the acked seq in Redis never passes an event whose async handler has not returned', async () => {
    const stack = await startStack(defer);
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer, { ackDelayMs: 20 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let blocked = false;
    device.client.on('xp:gained', async (_payload, meta) => {
      if (meta.seq === 3) {
        blocked = true;
        await gate;
      }
    });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 5);
    await waitFor(() => blocked, { message: 'the handler of seq 3 started' });
    await waitFor(async () => (await ackedSeq(stack, user)) === 2, { message: 'seqs 1-2 acked' });
    // Several ack delays later, with 4 and 5 on the device: still 2.
    await sleep(300);
    expect(await ackedSeq(stack, user)).toBe(2);
    expect(device.seqs()).toEqual([1, 2, 3]);
    release();
    await waitFor(async () => (await ackedSeq(stack, user)) === 5, { message: 'all five acked' });
    expect(device.seqs()).toEqual(range(1, 5));
  });

  it('a handler that throws is reported and counted as handled: the stream and the acks go on', async () => {
    const stack = await startStack(defer);
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer);
    device.client.on('xp:gained', (_payload, meta) => {
      if (meta.seq === 2) throw new Error('boom at 2');
    });
    device.client.on('xp:gained', async (_payload, meta) => {
      if (meta.seq === 3) throw new Error('async boom at 3');
      await Promise.resolve();
    });
    await device.client.ready;
    await publishMany(stack.publisher, user, 1, 4);
    await device.untilSeq(4);
    expect(device.seqs()).toEqual(range(1, 4));
    expect(
      device.errors.map((e) => [e.source, e.event, e.meta?.seq, (e.error.cause as Error).message]),
    ).toEqual([
      ['handler', 'xp:gained', 2, 'boom at 2'],
      ['handler', 'xp:gained', 3, 'async boom at 3'],
    ]);
    await waitFor(async () => (await ackedSeq(stack, user)) === 4, { message: 'all four acked' });
  });

  it('acks are batched: far fewer acks than events, the last one carrying the last seq', async () => {
    const stack = await startStack(defer);
    const user = uniqueUser();
    const device = startClient(stack.urls[0]!, user, defer);
    const acks: number[] = [];
    device.client.socket.onAnyOutgoing((event: string, payload: { seq: number }) => {
      if (event === 'herald:ack') acks.push(payload.seq);
    });
    await device.client.ready;
    const started = performance.now();
    const total = 300;
    await publishMany(stack.publisher, user, 1, total);
    await device.untilSeq(total);
    await waitFor(async () => (await ackedSeq(stack, user)) === total, { message: 'everything acked' });
    const seconds = (performance.now() - started) / 1000;
    expect(acks.at(-1)).toBe(total);
    expect(acks).toEqual([...acks].sort((a, b) => a - b));
    // Never over the client's own cap (10 per second, bursts of 10), well under the node's 20/s.
    expect(acks.length).toBeLessThanOrEqual(10 + Math.ceil(10 * seconds));
    expect(device.errors).toEqual([]);
    process.stdout.write(
      `[acks] ${total} events handled in ${seconds.toFixed(2)} s with ${acks.length} acks\n`,
    );
  });

  it('close() sends the ack that was still waiting for its delay', async () => {
    const stack = await startStack(defer);
    const { user, device } = await deviceHoldingItsAck(stack);
    device.client.close();
    await waitFor(async () => (await ackedSeq(stack, user)) === 3, { message: 'the last ack arrived' });
  });

  it('a page that is hidden sends the ack that was still waiting for its delay', async () => {
    // A browser's document, as far as the client uses it: visibility and its change event.
    const page = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    (globalThis as { document?: unknown }).document = page;
    defer(() => delete (globalThis as { document?: unknown }).document);
    const stack = await startStack(defer);
    const { user, device } = await deviceHoldingItsAck(stack);
    page.dispatchEvent(new Event('visibilitychange')); // still visible: nothing to do
    await sleep(200);
    expect(await ackedSeq(stack, user)).toBe(0);
    page.visibilityState = 'hidden';
    page.dispatchEvent(new Event('visibilitychange'));
    await waitFor(async () => (await ackedSeq(stack, user)) === 3, { message: 'the ack went when hidden' });
    // The client goes on: a later event is delivered and acked on close().
    await publishMany(stack.publisher, user, 4, 1);
    await device.untilSeq(4);
    expect(await ackedSeq(stack, user)).toBe(3);
    device.client.close();
    await waitFor(async () => (await ackedSeq(stack, user)) === 4, { message: 'the last ack arrived' });
  });
});
