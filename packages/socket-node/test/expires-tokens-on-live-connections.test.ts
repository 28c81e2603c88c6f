import { describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { createEmitter, startTestNode, useCleanup, useRedis } from './support.js';

/** What a socket saw, with arrival times, so the test can say when it was cut. */
interface Watched {
  socket: Socket;
  events: Array<{ event: string; at: number; args: unknown[] }>;
  disconnected: Promise<{ at: number; reason: string }>;
  exp: number;
}

/**
 * Resolves with the arguments of `event` on a watched socket: the one it already saw (a
 * warning due at once can arrive before `authenticated`), else the next.
 */
function seenOrNext(watched: Watched, event: string): Promise<unknown[]> {
  const seen = watched.events.find((e) => e.event === event);
  return seen ? Promise.resolve(seen.args) : next(watched.socket, event);
}

/** Resolves with the arguments of the next `event` on `socket`. */
function next(socket: Socket, event: string, timeoutMs = 8_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function expOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    exp: number;
  };
  return payload.exp;
}

describe('token lifetime on live connections', () => {
  const defer = useCleanup();

  async function watch(
    url: string,
    token: string,
    transports: Array<'websocket' | 'polling'>,
  ): Promise<Watched> {
    const socket = io(url, { transports, auth: { token }, reconnection: false, forceNew: true });
    defer(() => socket.disconnect());
    const events: Watched['events'] = [];
    socket.onAny((event: string, ...args: unknown[]) => events.push({ event, at: Date.now(), args }));
    const disconnected = new Promise<{ at: number; reason: string }>((resolve) =>
      socket.once('disconnect', (reason) => resolve({ at: Date.now(), reason })),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('authenticated', () => resolve());
      socket.once('connect_error', reject);
    });
    return { socket, events, disconnected, exp: expOf(token) };
  }

  it('warns before exp; a silent socket gets token_expired and is cut by exp + tolerance; herald:auth for the same user keeps it, for another user does not', async () => {
    const toleranceS = 1;
    const prefix = uniquePrefix('expiry');
    const { url } = await startTestNode(prefix, defer, {
      tokenExpiryWarningS: 2,
      jwt: { clockToleranceS: toleranceS },
    });
    const { redis, keys } = useRedis(prefix, defer);
    const silent = uniqueUser('silent');
    const refresher = uniqueUser('refresher');
    const wrong = uniqueUser('wrong');
    // Expiring within 2-3 s (exp is in whole seconds); the warning is due at once or within a second.
    const [silentWs, silentPolling, refreshing, wrongUser] = await Promise.all([
      watch(url, mintToken(silent, { expiresInS: 3 }), ['websocket']),
      watch(url, mintToken(silent, { expiresInS: 3 }), ['polling']),
      watch(url, mintToken(refresher, { expiresInS: 3 }), ['websocket']),
      watch(url, mintToken(wrong, { expiresInS: 3 }), ['websocket']),
    ]);

    const refreshed = seenOrNext(refreshing, 'herald:token_expiring').then(async ([payload]) => {
      expect(payload).toEqual({ exp: refreshing.exp });
      const ack: unknown = await refreshing.socket.emitWithAck('herald:auth', {
        token: mintToken(refresher, { expiresInS: 60 }),
      });
      return ack;
    });
    const refused = seenOrNext(wrongUser, 'herald:token_expiring').then(() =>
      wrongUser.socket.emitWithAck('herald:auth', {
        token: mintToken(uniqueUser('other'), { expiresInS: 60 }),
      }),
    );
    expect(await refreshed).toEqual({ accepted: true, exp: expect.any(Number) });
    expect(await refused).toEqual({
      accepted: false,
      code: 'invalid_token',
      message: expect.stringMatching(/another user/),
    });

    const lateness: Record<string, number> = {};
    for (const [name, watched] of Object.entries({ silentWs, silentPolling, wrongUser })) {
      const { at, reason } = await watched.disconnected;
      const deadline = (watched.exp + toleranceS) * 1000;
      lateness[name] = at - deadline;
      expect(reason, name).toBe('io server disconnect');
      // Never cut while the token is still valid, and cut soon after exp + tolerance.
      expect(at, name).toBeGreaterThanOrEqual(watched.exp * 1000);
      expect(at, name).toBeLessThan(deadline + 1_500);
      const names = watched.events.map((e) => e.event);
      expect(names, name).toContain('herald:token_expiring');
      const expired = watched.events.find(
        (e) => e.event === 'error' && (e.args[0] as { code?: string }).code === 'token_expired',
      );
      expect(expired, name).toBeDefined();
      expect(expired!.at, name).toBeLessThanOrEqual(at);
      const warned = watched.events.find((e) => e.event === 'herald:token_expiring')!;
      expect(warned.args[0], name).toEqual({ exp: watched.exp });
      expect(warned.at, name).toBeGreaterThanOrEqual((watched.exp - 2) * 1000 - 1_000);
    }
    expect(
      wrongUser.events.filter((e) => e.event === 'error').map((e) => (e.args[0] as { code: string }).code),
    ).toEqual(['invalid_token', 'token_expired']);
    process.stdout.write(
      `[token expiry] disconnect observed by the client, ms after exp + ${toleranceS} s: ${JSON.stringify(lateness)}\n`,
    );

    // The refreshed socket is still there after its old deadline, and still receives its events.
    expect(Date.now()).toBeGreaterThan((refreshing.exp + toleranceS) * 1000);
    expect(refreshing.socket.connected).toBe(true);
    const got = next(refreshing.socket, 'xp:gained');
    await createEmitter(redis, keys)
      .to(`user:${refresher}`)
      .emit('xp:gained', { amount: 5, source: 'after-refresh', totalXp: 5 }, { id: 'e-1', ts: 1 });
    expect((await got)[0]).toEqual({ amount: 5, source: 'after-refresh', totalXp: 5 });
    expect(refreshing.events.filter((e) => e.event === 'error')).toEqual([]);
    // herald:auth carries a token: it never reaches the client-events stream.
    expect(await redis.xlen(keys.clientEvents)).toBe(0);
  });

  it('answers a malformed herald:auth with invalid_payload and an expired one with invalid_token, keeping the connection', async () => {
    const { url } = await startTestNode(uniquePrefix('expiry'), defer, { jwt: { clockToleranceS: 0 } });
    const user = uniqueUser();
    const watched = await watch(url, mintToken(user, { expiresInS: 600 }), ['websocket']);
    expect(await watched.socket.emitWithAck('herald:auth', { token: 42 })).toMatchObject({
      accepted: false,
      code: 'invalid_payload',
    });
    expect(await watched.socket.emitWithAck('herald:auth', 'just a string')).toMatchObject({
      accepted: false,
      code: 'invalid_payload',
    });
    expect(
      await watched.socket.emitWithAck('herald:auth', { token: mintToken(user, { expiresInS: -10 }) }),
    ).toEqual({
      accepted: false,
      code: 'invalid_token',
      message: expect.stringMatching(/already expired/),
    });
    expect(await watched.socket.emitWithAck('herald:auth', { token: 'x'.repeat(9_000) })).toMatchObject({
      accepted: false,
      code: 'invalid_token',
      message: expect.stringMatching(/too large/),
    });
    // Without an ack the answer is the error event alone.
    const error = next(watched.socket, 'error');
    watched.socket.emit('herald:auth', { token: 'garbage' });
    expect((await error)[0]).toMatchObject({ code: 'invalid_token' });
    const fresh = mintToken(user, { expiresInS: 1200 });
    expect(await watched.socket.emitWithAck('herald:auth', { token: fresh })).toEqual({
      accepted: true,
      exp: expOf(fresh),
    });
    expect(watched.socket.connected).toBe(true);
    expect(watched.events.map((e) => e.event)).not.toContain('herald:token_expiring');
  });
});
