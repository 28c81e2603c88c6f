import { describe, expect, it } from 'vitest';
import { mintToken, uniqueUser, waitFor } from '@herald/testing';
import { publishMany, range, startClient, startStack, useCleanup } from './support.js';

describe('tokens', () => {
  const defer = useCleanup();

  it('a handshake refused for an expired token is retried with a fresh one from getToken', async () => {
    const { urls } = await startStack(defer);
    const user = uniqueUser();
    const calls: string[] = [];
    const device = startClient(urls[0]!, user, defer, {
      getToken: () => {
        calls.push('token');
        return mintToken(user, { expiresInS: calls.length === 1 ? -60 : 3600 });
      },
    });
    expect((await device.client.ready).userId).toBe(user);
    expect(calls).toHaveLength(2);
    expect(device.errors.map((e) => [e.source, e.error.code])).toEqual([['connection', 'token_expired']]);
    expect(device.statuses.map((s) => s.state)).toEqual(['disconnected', 'connected']);
  });

  it('a token about to expire is replaced in-band (herald:auth) and the connection outlives it', async () => {
    const { urls, publisher } = await startStack(defer, {
      nodeOptions: { tokenExpiryWarningS: 2, jwt: { clockToleranceS: 0 } },
    });
    const user = uniqueUser();
    let calls = 0;
    let firstExp = 0;
    const device = startClient(urls[0]!, user, defer, {
      getToken: () => {
        calls++;
        const expiresInS = calls === 1 ? 3 : 3600;
        if (calls === 1) firstExp = Math.floor(Date.now() / 1000) + expiresInS;
        return mintToken(user, { expiresInS });
      },
    });
    await device.client.ready;
    await waitFor(() => calls === 2, { message: 'getToken was called for the refresh' });
    // Past the first token's expiry (plus a second for the node's deadline timer).
    await waitFor(() => Date.now() > (firstExp + 1) * 1000, { timeoutMs: 10_000 });
    await publishMany(publisher, user, 1, 1);
    await device.untilSeq(1);
    expect(device.client.socket.connected).toBe(true);
    expect(device.statuses.map((s) => s.state)).toEqual(['connected']);
    expect(device.errors).toEqual([]);
    expect(calls).toBe(2);
  });

  it('when the refresh fails the node cuts the connection at exp; the client reconnects with a new token and misses nothing', async () => {
    const { urls, publisher } = await startStack(defer, {
      nodeOptions: { tokenExpiryWarningS: 2, jwt: { clockToleranceS: 0 } },
    });
    const user = uniqueUser();
    let calls = 0;
    const device = startClient(urls[0]!, user, defer, {
      getToken: () => {
        calls++;
        if (calls === 2) throw new Error('the auth server is down');
        return mintToken(user, { expiresInS: calls === 1 ? 3 : 3600 });
      },
    });
    await device.client.ready;
    await publishMany(publisher, user, 1, 3);
    await device.untilSeq(3);
    await waitFor(() => device.statuses.some((s) => s.state === 'disconnected'), {
      timeoutMs: 10_000,
      message: 'the node cut the expired connection',
    });
    // Published while the device is cut off: the reconnect's replay brings them.
    await publishMany(publisher, user, 4, 3);
    await waitFor(() => device.statuses.filter((s) => s.state === 'connected').length === 2, {
      timeoutMs: 10_000,
      message: 'the client reconnected',
    });
    await publishMany(publisher, user, 7, 1);
    await device.untilSeq(7);
    expect(device.seqs()).toEqual(range(1, 7));
    expect(calls).toBe(3);
    expect(device.statuses.map((s) => (s.state === 'disconnected' ? s.reason : s.state))).toEqual([
      'connected',
      'io server disconnect',
      'connected',
    ]);
    expect(device.errors.map((e) => [e.source, e.error.code])).toEqual([
      ['token', 'token_expired'],
      ['server', 'token_expired'],
    ]);
  });
});
