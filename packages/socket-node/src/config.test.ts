import { describe, expect, it } from 'vitest';
import { parseEnv, silentLogger } from '@herald/core';
import { SocketNodeEnv, socketNodeOptionsFromEnv } from './config.js';

const secret = 's'.repeat(32);

describe('SocketNodeEnv', () => {
  it('fills the defaults of the original module and Herald', () => {
    const env = parseEnv(SocketNodeEnv, { JWT_SECRET: secret });
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      WS_PATH: '/socket.io/',
      CORS_ORIGIN: [],
      HERALD_PRESENCE_TTL_MS: 20_000,
      REDIS_URL: 'redis://127.0.0.1:6379',
      HERALD_REDIS_PREFIX: '{herald}',
      HERALD_LOG_LEVEL: 'info',
    });
    expect(env.HERALD_NODE_ID).toBeUndefined();
    const options = socketNodeOptionsFromEnv(env, silentLogger());
    expect(options).toMatchObject({
      port: 3000,
      wsPath: '/socket.io/',
      corsOrigins: [],
      presenceTtlMs: 20_000,
    });
    expect('nodeId' in options).toBe(false);
  });

  it('reads a comma-separated CORS_ORIGIN, and empty values as unset', () => {
    const env = parseEnv(SocketNodeEnv, {
      JWT_SECRET: secret,
      CORS_ORIGIN: 'http://localhost:3000, http://localhost:5173',
      PORT: '',
      HERALD_NODE_ID: 'node-a',
    });
    expect(env.CORS_ORIGIN).toEqual(['http://localhost:3000', 'http://localhost:5173']);
    expect(env.PORT).toBe(3000);
    expect(socketNodeOptionsFromEnv(env, silentLogger()).nodeId).toBe('node-a');
  });

  it('has the documented limits by default', () => {
    const options = socketNodeOptionsFromEnv(parseEnv(SocketNodeEnv, { JWT_SECRET: secret }), silentLogger());
    expect(options).toMatchObject({
      maxMessageBytes: 65_536,
      maxBufferedBytes: 1_048_576,
      redisTimeoutMs: 2_000,
      clientEventRate: 20,
      clientEventBurst: 40,
      rateLimitDisconnectAfter: 100,
      maxDevicesPerUser: 20,
      handshakeRate: 50,
      handshakeBurst: 100,
      trustProxy: 0,
    });
  });

  it('reads the limits, "*" alone as CORS_ORIGIN, and HERALD_TRUST_PROXY as a number of proxies', () => {
    const env = parseEnv(SocketNodeEnv, {
      JWT_SECRET: secret,
      CORS_ORIGIN: '*',
      HERALD_MAX_MESSAGE_BYTES: '2048',
      HERALD_CLIENT_EVENT_RATE: '0',
      HERALD_MAX_DEVICES_PER_USER: '3',
      HERALD_TRUST_PROXY: 'true',
    });
    expect(socketNodeOptionsFromEnv(env, silentLogger())).toMatchObject({
      corsOrigins: ['*'],
      maxMessageBytes: 2048,
      clientEventRate: 0,
      maxDevicesPerUser: 3,
      trustProxy: 1,
    });
    expect(
      parseEnv(SocketNodeEnv, { JWT_SECRET: secret, HERALD_TRUST_PROXY: 'FALSE' }).HERALD_TRUST_PROXY,
    ).toBe(0);
    expect(parseEnv(SocketNodeEnv, { JWT_SECRET: secret, HERALD_TRUST_PROXY: '2' }).HERALD_TRUST_PROXY).toBe(
      2,
    );
  });

  it.each([
    [{}, /JWT_SECRET/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET: expected a secret of at least 32 bytes/],
    [{ JWT_SECRET: secret, PORT: 'eighty' }, /PORT/],
    [{ JWT_SECRET: secret, CORS_ORIGIN: '*,https://app.example.com' }, /CORS_ORIGIN: .*"\*" .* only entry/],
    [{ JWT_SECRET: secret, CORS_ORIGIN: 'https://*.example.com/' }, /CORS_ORIGIN: expected exact origins/],
    [
      { JWT_SECRET: secret, HERALD_MAX_MESSAGE_BYTES: '100' },
      /HERALD_MAX_MESSAGE_BYTES: expected an integer >= 1024/,
    ],
    [{ JWT_SECRET: secret, HERALD_CLIENT_EVENT_BURST: '0' }, /HERALD_CLIENT_EVENT_BURST/],
    [
      { JWT_SECRET: secret, HERALD_MAX_BUFFERED_BYTES: '1000' },
      /HERALD_MAX_BUFFERED_BYTES: expected 0 \(no cap\) or an integer >= 65536/,
    ],
    [{ JWT_SECRET: secret, HERALD_MAX_DEVICES_PER_USER: '-1' }, /HERALD_MAX_DEVICES_PER_USER/],
    [
      { JWT_SECRET: secret, HERALD_TRUST_PROXY: 'yes' },
      /HERALD_TRUST_PROXY: expected true, false or a number/,
    ],
    [{ JWT_SECRET: secret, CORS_ORIGIN: 'https://app.example.com/' }, /CORS_ORIGIN/],
    [{ JWT_SECRET: secret, WS_PATH: 'socket.io' }, /WS_PATH/],
    [
      { JWT_SECRET: secret, HERALD_PRESENCE_TTL_MS: '60000' },
      /HERALD_PRESENCE_TTL_MS: expected an integer <= 30000/,
    ],
    [{ JWT_SECRET: secret, HERALD_NODE_ID: 'a|b' }, /HERALD_NODE_ID/],
    [{ JWT_SECRET: secret, REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
  ])('names the bad variable in %j', (env, message) => {
    expect(() => parseEnv(SocketNodeEnv, env)).toThrow(message);
  });
});
