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

  it.each([
    [{}, /JWT_SECRET/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET: expected a secret of at least 32 characters/],
    [{ JWT_SECRET: secret, PORT: 'eighty' }, /PORT/],
    [{ JWT_SECRET: secret, CORS_ORIGIN: '*' }, /CORS_ORIGIN\[0\]: expected exact origins/],
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
