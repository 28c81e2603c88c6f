import { describe, expect, it } from 'vitest';
import type { ClientEventAck } from '@herald/contracts';
import { mintToken, sleep, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { device, startTestNode, useCleanup, useRedis } from './support.js';

describe('client event rate limit (default 20/s, burst 40)', () => {
  const defer = useCleanup();

  async function setup() {
    const prefix = uniquePrefix('rate');
    const { url } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const streamLength = () => redis.xlen(keys.clientEvents);
    const bystander = await device(url, defer, { token: mintToken(uniqueUser('bystander')) });
    const bystanderStillServed = async () => {
      expect(
        await bystander.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'b' }),
      ).toEqual({ accepted: true });
      expect(bystander.payloads('error')).toEqual([]);
    };
    return { url, streamLength, bystanderStillServed };
  }

  it('takes a burst of 40, refuses the rest with rate_limited, and takes events again after a pause', async () => {
    const { url, streamLength, bystanderStillServed } = await setup();
    const d = await device(url, defer, { token: mintToken(uniqueUser()) });

    const sentAt = Date.now();
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: `n-${i}` }),
      ),
    );
    const elapsedMs = Date.now() - sentAt;
    const accepted = acks.filter((ack) => ack.accepted).length;
    process.stdout.write(`[rate-limit] 60 events at once: ${accepted} accepted in ${elapsedMs} ms\n`);
    // 40 at once, plus one per 50 ms that passed while they arrived (a loaded CI machine is slow
    // to deliver them, so the bound follows the time they actually took).
    expect(accepted).toBeGreaterThanOrEqual(40);
    expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(elapsedMs / 50) + 1);
    expect(accepted).toBeLessThan(60);
    const refused = acks.filter((ack): ack is Extract<ClientEventAck, { accepted: false }> => !ack.accepted);
    expect(refused).toHaveLength(60 - accepted);
    for (const ack of refused) expect(ack).toMatchObject({ code: 'rate_limited', message: /20 per second/ });
    await waitFor(() => d.payloads('error').length === refused.length, { message: 'one error per refusal' });
    expect(new Set(d.payloads('error').map((e) => (e as { code: string }).code))).toEqual(
      new Set(['rate_limited']),
    );
    // Refused events never reach the stream (the bystander's event below is the only other one).
    expect(await streamLength()).toBe(accepted);
    await bystanderStillServed();

    // Unknown events count too: a burst of them alone runs the bucket dry as well.
    const unknownAcks = (await Promise.all(
      Array.from({ length: 60 }, () => d.socket.timeout(5_000).emitWithAck('notification:nonsense', {})),
    )) as Array<{ code?: string }>;
    expect(unknownAcks.filter((ack) => ack.code === 'rate_limited').length).toBeGreaterThan(0);

    // 20 per second come back: after a pause the client is served again, and stays connected.
    await sleep(1_100);
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'later' }),
    ).toEqual({ accepted: true });
    expect(await d.socket.timeout(5_000).emitWithAck('notification:nonsense', {})).toMatchObject({
      code: 'unknown_event',
    });
    expect(d.socket.connected).toBe(true);
  });

  it('disconnects a client that floods far beyond the limit, with unknown events too, and serves others throughout', async () => {
    const { url, bystanderStillServed } = await setup();
    const flooder = await device(url, defer, { token: mintToken(uniqueUser('flooder')) });
    const reasons: string[] = [];
    flooder.socket.on('disconnect', (reason) => reasons.push(reason));

    // 40 go through, 100 are refused, the next one disconnects: 500 is far beyond that.
    const sentAt = Date.now();
    for (let i = 0; i < 500; i++) flooder.socket.emit('notification:delete_everything', { i });
    await waitFor(() => reasons.length > 0, { message: 'the flooder was disconnected' });
    const elapsedMs = Date.now() - sentAt;
    expect(reasons).toEqual(['io server disconnect']);
    const errors = flooder.payloads('error') as Array<{ code: string; message: string }>;
    // The first 40 were let through (and refused as unknown), then rate_limited until the cut;
    // tokens that refilled while the flood arrived let a few more through.
    const refill = Math.ceil(elapsedMs / 50) + 1;
    expect(errors.slice(0, 40).every((e) => e.code === 'unknown_event')).toBe(true);
    const passed = errors.filter((e) => e.code === 'unknown_event').length;
    expect(passed).toBeLessThanOrEqual(40 + refill);
    expect(errors.filter((e) => e.code === 'rate_limited').length).toBeGreaterThanOrEqual(100);
    expect(errors.at(-1)?.message).toMatch(/disconnecting/);
    process.stdout.write(
      `[rate-limit] flood of 500: ${errors.length} answers in ${elapsedMs} ms before the disconnect\n`,
    );
    expect(errors.length).toBeLessThanOrEqual(40 + 100 + 1 + 2 * refill);

    await bystanderStillServed();
  });
  it('counts herald:auth toward the rate without losing a token refresh, and disconnects a flood of them', async () => {
    const { url, bystanderStillServed } = await setup();
    const user = uniqueUser();
    const d = await device(url, defer, { token: mintToken(user) });
    // Well past the burst of 40, so refills while they arrive cannot make room for the next one.
    for (let i = 0; i < 90; i++) d.socket.emit('notification:mark_read', { notificationId: `n-${i}` });
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'over' }),
    ).toMatchObject({ accepted: false, code: 'rate_limited' });
    // Over the rate, a token refresh still goes through: losing it would end the connection at exp.
    const refreshed = (await d.socket
      .timeout(5_000)
      .emitWithAck('herald:auth', { token: mintToken(user) })) as { accepted: boolean };
    expect(refreshed).toMatchObject({ accepted: true });

    const reasons: string[] = [];
    d.socket.on('disconnect', (reason) => reasons.push(reason));
    for (let i = 0; i < 300; i++) d.socket.emit('herald:auth', { token: 'x' });
    await waitFor(() => reasons.length > 0, { message: 'the herald:auth flooder was disconnected' });
    expect(reasons).toEqual(['io server disconnect']);
    await bystanderStillServed();
  });
});
