import { describe, expect, it } from 'vitest';
import { mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';
import { pollingHandshake } from './raw-http.js';

/** Over the default 64 KB limit (65,536 bytes) once framed. */
const OVERSIZED = 'x'.repeat(70_000);
/** Under it: reaches the node, which refuses it by its schema instead. */
const LARGE_BUT_ALLOWED = 'x'.repeat(60_000);

describe('message size limit (default 64 KB)', () => {
  const defer = useCleanup();

  async function setup() {
    const prefix = uniquePrefix('size');
    const { url } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const bystanderId = uniqueUser('bystander');
    const bystander = await device(url, defer, { token: mintToken(bystanderId) });
    /** The node still delivers to, and takes events from, a well-behaved client. */
    const stillServes = async () => {
      const delivered = nextEvent(bystander, 'notification:new');
      await createEmitter(redis, keys)
        .to(`user:${bystanderId}`)
        .emit('notification:new', { notification: { title: 'still here' } }, { id: 'e1', ts: 1 });
      expect((await delivered)[0]).toEqual({ notification: { title: 'still here' } });
      expect(
        await bystander.socket
          .timeout(5_000)
          .emitWithAck('notification:mark_read', { notificationId: 'n-1' }),
      ).toEqual({ accepted: true });
    };
    return { url, bystander, stillServes };
  }

  it.each(['websocket', 'polling'] as const)(
    'closes the %s connection that sends a bigger message, and keeps serving others',
    async (transport) => {
      const { url, bystander, stillServes } = await setup();
      const d = await device(url, defer, { token: mintToken(uniqueUser()), transports: [transport] });

      // Just under the limit the message arrives and is judged by its schema.
      const ack = await d.socket
        .timeout(5_000)
        .emitWithAck('notification:mark_read', { notificationId: LARGE_BUT_ALLOWED });
      expect(ack).toMatchObject({ accepted: false, code: 'invalid_payload' });

      const reasons: string[] = [];
      d.socket.on('disconnect', (reason) => reasons.push(reason));
      d.socket.emit('notification:mark_read', { notificationId: OVERSIZED });
      // websocket: the server closes with 1009 (message too big); polling: the POST gets 413 and the session ends.
      await waitFor(() => reasons.length > 0, { message: 'the oversized sender was disconnected' });
      expect(reasons[0]).toMatch(/^transport (close|error)$/);
      expect(bystander.socket.connected).toBe(true);
      await stillServes();
    },
  );

  it('answers an oversized polling POST with 413 and ends that session', async () => {
    const { url, stillServes } = await setup();
    const { sid } = await pollingHandshake(url);
    expect(sid).toBeDefined();
    const sessionUrl = `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    // Engine.IO closes the connection after a 413 without reading the rest of the body: a
    // keep-alive connection would go back to fetch's pool and fail the next request on it.
    const big = await fetch(sessionUrl, {
      method: 'POST',
      body: `4${OVERSIZED}`,
      headers: { connection: 'close' },
    });
    expect(big.status).toBe(413);
    // The session is gone: its id is unknown now.
    await waitFor(async () => (await fetch(sessionUrl)).status === 400, { message: 'session closed' });
    await stillServes();
  });

  it('takes its limit from maxMessageBytes', async () => {
    const { url } = await startTestNode(uniquePrefix('size'), defer, { maxMessageBytes: 4_096 });
    const { sid } = await pollingHandshake(url);
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      body: `4${'x'.repeat(5_000)}`,
      headers: { connection: 'close' },
    });
    expect(res.status).toBe(413);
  });
});
