import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import {
  connectDevice,
  connectError,
  leakedSecrets,
  mintToken,
  mintUnsignedToken,
  pinoLines,
  spawnApp,
  startRedisServer,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type RedisServerChild,
  randomSecret,
} from '@herald/testing';
import { useCleanup } from './support.js';

/** The signature part of a JWT: what would make a leaked token usable. */
const signature = (token: string) => token.split('.')[2] as string;

describe('socket node logs', () => {
  const defer = useCleanup();
  const redisPassword = randomSecret('redispw');
  let redis: RedisServerChild;

  beforeAll(async () => {
    redis = await startRedisServer({ args: ['--requirepass', redisPassword] });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('at debug level hold no token, JWT secret, Redis password or email address, through accepted and refused handshakes', async () => {
    const jwtSecret = randomSecret('jwtsecret');
    expect(redis.url).toContain(redisPassword);
    const app = spawnApp('socket-node', {
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: uniquePrefix('secrets'),
      JWT_SECRET: jwtSecret,
      PORT: '0',
      HOST: '127.0.0.1',
      HERALD_LOG_LEVEL: 'debug',
    });
    defer(() => app.stop('SIGKILL'));
    const [, port] = await app.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/, 30_000);
    const url = `http://127.0.0.1:${port}`;

    const user = uniqueUser('secret');
    // The node remembers the email claim for the fallback worker; it has no reason to log it.
    const address = `${randomSecret('ana')}@example.com`;
    const valid = mintToken(user, { secret: jwtSecret, email: address });
    const viaHeader = mintToken(user, { secret: jwtSecret, email: address });
    const wrongSecret = mintToken(user, { secret: randomSecret('othersecret') });
    const expired = mintToken(user, { secret: jwtSecret, expiresInS: -60 });
    const unsigned = mintUnsignedToken(user);
    const garbage = randomSecret('garbagetoken');

    // Accepted: token in auth (websocket) and in an Authorization header (polling), then a client event.
    const ws = await connectDevice(url, { token: valid });
    defer(() => ws.close());
    const polling = await connectDevice(url, {
      transports: ['polling'],
      extraHeaders: { authorization: `Bearer ${viaHeader}` },
    });
    defer(() => polling.close());
    const ack = await ws.socket
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n1' });
    expect(ack).toEqual({ accepted: true });
    // In-band refreshes carry tokens too: one accepted, one of another user, one that is garbage.
    const refresh = mintToken(user, { secret: jwtSecret, expiresInS: 7_200, email: address });
    const otherUser = mintToken(uniqueUser('other'), { secret: jwtSecret });
    const refreshGarbage = randomSecret('refreshgarbage');
    const refreshed: Array<{ accepted: boolean }> = [];
    for (const token of [refresh, otherUser, refreshGarbage]) {
      refreshed.push(
        (await ws.socket.timeout(5_000).emitWithAck('herald:auth', { token })) as { accepted: boolean },
      );
    }
    expect(refreshed.map((r) => r.accepted)).toEqual([true, false, false]);

    // Refused, each for its own reason.
    expect(await connectError(url, { token: wrongSecret })).toBe('invalid_token');
    expect(await connectError(url, { token: expired })).toBe('token_expired');
    expect(await connectError(url, { token: unsigned })).toBe('invalid_token');
    expect(await connectError(url, { token: garbage })).toBe('invalid_token');
    expect(
      await connectError(url, {
        transports: ['polling'],
        extraHeaders: { authorization: `Bearer ${garbage}` },
      }),
    ).toBe('invalid_token');
    // A token in the query string is not a way in, and must not be logged either.
    const queried = io(url, { transports: ['polling'], query: { token: valid }, reconnection: false });
    defer(() => queried.disconnect());
    const queryRefusal = await new Promise<string>((resolve) =>
      queried.once('connect_error', (error) => resolve(error.message)),
    );
    expect(queryRefusal).toBe('missing_token');
    ws.close();
    polling.close();

    expect(await app.stop('SIGTERM')).toBe(0);
    const lines = pinoLines(app.output());
    // The refusals were logged at debug level, so there was something to leak.
    expect(lines.filter((l) => l.includes('handshake refused')).length).toBeGreaterThanOrEqual(5);
    expect(
      leakedSecrets(lines, {
        jwtSecret,
        redisPassword,
        valid: signature(valid),
        viaHeader: signature(viaHeader),
        wrongSecret: signature(wrongSecret),
        expired: signature(expired),
        // An unsigned token has no signature: its payload part is what identifies it.
        unsigned: unsigned.split('.')[1] as string,
        garbage,
        refresh: signature(refresh),
        otherUser: signature(otherUser),
        refreshGarbage,
        address,
      }),
    ).toEqual({});
  });

  it('hold no Redis password when the password is wrong (ioredis puts the AUTH arguments on its error)', async () => {
    const wrongPassword = randomSecret('wrongpw');
    const app = spawnApp('socket-node', {
      REDIS_URL: `redis://default:${wrongPassword}@127.0.0.1:${redis.port}`,
      HERALD_REDIS_PREFIX: uniquePrefix('secrets'),
      JWT_SECRET: randomSecret('jwtsecret'),
      PORT: '0',
      HOST: '127.0.0.1',
      HERALD_LOG_LEVEL: 'debug',
    });
    defer(() => app.stop('SIGKILL'));
    // The node keeps retrying without listening; wait until it logged the refusal.
    await waitFor(() => pinoLines(app.output()).some((l) => l.includes('WRONGPASS')), {
      timeoutMs: 20_000,
      message: 'the node logged the WRONGPASS error',
    });
    await app.stop('SIGKILL');
    expect(leakedSecrets(pinoLines(app.output()), { wrongPassword, redisPassword })).toEqual({});
  });
});
