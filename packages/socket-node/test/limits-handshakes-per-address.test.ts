import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { mintToken, sleep, uniquePrefix, uniqueUser } from '@herald/testing';
import { device, startTestNode, useCleanup } from './support.js';
import { pollingHandshake, websocketHandshake } from './raw-http.js';

describe('handshakes per client address', () => {
  const defer = useCleanup();

  it('refuses the handshake beyond the burst before any token is read, and accepts again after a wait', async () => {
    const { url } = await startTestNode(uniquePrefix('handshakes'), defer, {
      handshakeRate: 1,
      handshakeBurst: 5,
    });

    const answers = await Promise.all(Array.from({ length: 6 }, () => pollingHandshake(url)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 403]);
    expect(JSON.parse(answers.find((a) => a.status === 403)?.body ?? '')).toEqual({
      code: 4,
      message: 'rate_limited',
    });
    // The websocket door is the same door.
    expect(await websocketHandshake(url)).toMatchObject({ status: 400, body: 'rate_limited' });
    // socket.io-client sees a transport error (no token was looked at) and would retry with backoff.
    const socket = io(url, {
      transports: ['polling'],
      auth: { token: 'not even a token' },
      reconnection: false,
    });
    defer(() => socket.disconnect());
    const error = await new Promise<Error & { description?: unknown }>((resolve) =>
      socket.once('connect_error', resolve),
    );
    expect(error.message).toBe('xhr poll error');
    expect(error.description).toBe(403);

    // One handshake comes back every second (a slow rate, so a loaded machine cannot refill it mid-test).
    await sleep(1_050);
    const d = await device(url, defer, { token: mintToken(uniqueUser()) });
    expect(d.socket.connected).toBe(true);
  });

  it('counts each client behind a trusted proxy by the address the proxy forwarded', async () => {
    const limits = { handshakeRate: 1, handshakeBurst: 2 };
    const behindProxy = await startTestNode(uniquePrefix('handshakes'), defer, {
      ...limits,
      trustProxy: true,
    });
    const from = (client: string) => ({ 'x-forwarded-for': `198.51.100.77, ${client}` });

    const first = [];
    for (let i = 0; i < 3; i++)
      first.push((await pollingHandshake(behindProxy.url, from('203.0.113.1'))).status);
    expect(first).toEqual([200, 200, 403]);
    // Another client through the same proxy, even with the same spoofed left-hand entry, has its own budget.
    expect((await pollingHandshake(behindProxy.url, from('203.0.113.2'))).status).toBe(200);

    // Without trustProxy the header is ignored: everyone is the TCP peer.
    const direct = await startTestNode(uniquePrefix('handshakes'), defer, limits);
    const statuses = [];
    for (const client of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      statuses.push((await pollingHandshake(direct.url, from(client))).status);
    }
    expect(statuses).toEqual([200, 200, 403]);
  });
});
