import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { lookupEmail } from '@herald/core';
import {
  connectError,
  mintToken,
  mintUnsignedToken,
  uniquePrefix,
  uniqueUser,
  waitFor,
} from '@herald/testing';
import { device, startTestNode, useCleanup, useRedis } from './support.js';

describe('handshake', () => {
  const defer = useCleanup();

  it('refuses missing, garbage, wrongly signed, expired and unsigned tokens with their reason, leaving nothing behind', async () => {
    const prefix = uniquePrefix('auth');
    const { url, node } = await startTestNode(prefix, defer);
    const { redis, keys, presence } = useRedis(prefix, defer);

    const cases: Array<{
      name: string;
      user: string;
      token: (user: string) => string | undefined;
      reason: string;
    }> = [
      { name: 'missing', user: uniqueUser(), token: () => undefined, reason: 'missing_token' },
      { name: 'garbage', user: uniqueUser(), token: () => 'not.a-jwt', reason: 'invalid_token' },
      {
        name: 'wrong secret',
        user: uniqueUser(),
        token: (u) =>
          mintToken(u, { secret: 'some-other-secret-0123456789abcdefghij', email: 'x@example.com' }),
        reason: 'invalid_token',
      },
      {
        name: 'expired',
        user: uniqueUser(),
        token: (u) => mintToken(u, { expiresInS: -120, email: 'x@example.com' }),
        reason: 'token_expired',
      },
      { name: 'alg none', user: uniqueUser(), token: (u) => mintUnsignedToken(u), reason: 'invalid_token' },
      {
        name: 'token without user id',
        user: uniqueUser(),
        token: () => mintToken('', { extra: { sub: undefined } }),
        reason: 'invalid_token',
      },
    ];

    for (const c of cases) {
      const message = await connectError(url, { token: c.token(c.user) });
      expect(message, c.name).toBe(c.reason);
    }
    // The same through polling, which takes a different path through Engine.IO.
    expect(await connectError(url, { transports: ['polling'], token: 'garbage' })).toBe('invalid_token');
    // A non-string auth.token is malformed, not missing.
    expect(await connectError(url, { auth: { token: 12345 } })).toBe('invalid_token');

    for (const c of cases) {
      expect(await redis.exists(keys.presence(c.user)), c.name).toBe(0);
      expect(await presence.isOnline(c.user), c.name).toBe(false);
      expect(await lookupEmail(redis, keys, c.user), c.name).toBeNull();
      expect(node.io.of('/').adapter.rooms.has(`user:${c.user}`), c.name).toBe(false);
    }
    expect(node.io.of('/').sockets.size).toBe(0);
    expect(node.presence.localCount).toBe(0);
  });

  it('gives the reason as connect_error data too, for people', async () => {
    const prefix = uniquePrefix('auth');
    const { url } = await startTestNode(prefix, defer);
    const socket = io(url, {
      transports: ['websocket'],
      auth: { token: mintToken(uniqueUser(), { expiresInS: -60 }) },
      reconnection: false,
      forceNew: true,
    });
    defer(() => socket.disconnect());
    const error = await new Promise<Error & { data?: unknown }>((resolve) =>
      socket.once('connect_error', resolve),
    );
    expect(error.message).toBe('token_expired');
    expect(error.data).toEqual({ code: 'token_expired', message: expect.stringMatching(/expired/) });
  });

  it('accepts a token in auth.token: joins the user room, registers presence, remembers the email', async () => {
    const prefix = uniquePrefix('auth');
    const { url, node } = await startTestNode(prefix, defer);
    const { redis, keys, presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const d = await device(url, defer, {
      token: mintToken(user, { email: 'ana@example.com', role: 'admin' }),
    });
    expect(d.payloads('authenticated')).toEqual([
      { success: true, userId: user, email: 'ana@example.com', seq: 0 },
    ]);
    expect(await presence.devices(user)).toBe(1);
    expect(await lookupEmail(redis, keys, user)).toBe('ana@example.com');
    const serverSocket = node.io.of('/').sockets.get(d.socket.id!);
    expect(serverSocket?.data).toEqual({ userId: user, email: 'ana@example.com', role: 'admin' });
    expect(serverSocket?.rooms.has(`user:${user}`)).toBe(true);
  });

  it('accepts an Authorization: Bearer header', async () => {
    const prefix = uniquePrefix('auth');
    const { url } = await startTestNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const d = await device(url, defer, {
      transports: ['websocket'],
      extraHeaders: { Authorization: `Bearer ${mintToken(user)}` },
    });
    expect(d.payloads('authenticated')).toEqual([{ success: true, userId: user, email: null, seq: 0 }]);
    expect(await presence.isOnline(user)).toBe(true);
    // And a bad header is refused like a bad auth.token.
    expect(
      await connectError(url, { extraHeaders: { Authorization: `Bearer ${mintUnsignedToken(user)}` } }),
    ).toBe('invalid_token');
    expect(await connectError(url, { extraHeaders: { Authorization: 'Basic dXNlcjpwYXNz' } })).toBe(
      'invalid_token',
    );
  });

  it('accepts a numeric userId claim (the original module signed { userId })', async () => {
    const prefix = uniquePrefix('auth');
    const { url } = await startTestNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    const numeric = 4_000_000 + Math.floor(Math.random() * 1_000_000);
    const d = await device(url, defer, {
      token: mintToken('ignored', { extra: { sub: undefined, userId: numeric }, email: 'num@example.com' }),
    });
    expect(d.payloads('authenticated')).toEqual([
      { success: true, userId: String(numeric), email: 'num@example.com', seq: 0 },
    ]);
    expect(await presence.isOnline(String(numeric))).toBe(true);
    d.close();
    await waitFor(async () => !(await presence.isOnline(String(numeric))), {
      message: 'numeric user offline',
    });
  });
});
