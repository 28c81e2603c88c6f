import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEnv, silentLogger } from '@herald/core';
import { SocketNodeEnv, socketNodeOptionsFromEnv } from './config.js';
import { createTokenVerifier } from './verification-keys.js';

const secret = 's'.repeat(32);
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('JWT variables', () => {
  it('default to HS256 with JWT_SECRET, 5 s of tolerance and a warning 60 s before expiry', () => {
    const options = socketNodeOptionsFromEnv(parseEnv(SocketNodeEnv, { JWT_SECRET: secret }), silentLogger());
    expect(options).toMatchObject({
      jwtSecret: secret,
      jwt: { algorithms: ['HS256'], clockToleranceS: 5 },
      tokenExpiryWarningS: 60,
    });
    expect(options.jwt).not.toHaveProperty('issuer');
    expect(options.jwt).not.toHaveProperty('publicKey');
  });

  it('read public keys (escaped newlines too), kid keys, issuers and audiences', () => {
    const env = parseEnv(SocketNodeEnv, {
      HERALD_JWT_ALGORITHMS: 'RS256',
      HERALD_JWT_PUBLIC_KEY: rsaPem.replace(/\n/g, '\\n'),
      HERALD_JWT_KEYS: JSON.stringify([{ kid: 'next', publicKey: rsaPem, algorithms: ['RS256'] }]),
      HERALD_JWT_ISSUER: 'https://a.example.com, https://b.example.com',
      HERALD_JWT_AUDIENCE: 'herald',
      HERALD_JWT_CLOCK_TOLERANCE_S: '0',
      HERALD_TOKEN_EXPIRY_WARNING_S: '0',
    });
    const options = socketNodeOptionsFromEnv(env, silentLogger());
    expect(options).not.toHaveProperty('jwtSecret');
    expect(options.jwt).toEqual({
      algorithms: ['RS256'],
      publicKey: rsaPem,
      keys: [{ kid: 'next', publicKey: rsaPem, algorithms: ['RS256'] }],
      issuer: ['https://a.example.com', 'https://b.example.com'],
      audience: ['herald'],
      clockToleranceS: 0,
    });
    expect(options.tokenExpiryWarningS).toBe(0);
    const verifier = createTokenVerifier(options.jwtSecret, options.jwt);
    expect(verifier.keys.describe()).toEqual([
      { kid: null, kind: 'public', algorithms: ['RS256'] },
      { kid: 'next', kind: 'public', algorithms: ['RS256'] },
    ]);
  });

  it.each([
    [{}, /JWT_SECRET: required/],
    [
      { JWT_SECRET: 'sixteen-chars-00' },
      /^Invalid configuration: JWT_SECRET: expected a secret of at least 32 bytes$/,
    ],
    [{ JWT_SECRET: rsaPem }, /JWT_SECRET: a PEM key is not an HS secret/],
    [{ JWT_SECRET: secret, HERALD_JWT_ALGORITHMS: 'none' }, /HERALD_JWT_ALGORITHMS\[0\]: expected HS256/],
    [
      { JWT_SECRET: secret, HERALD_JWT_ALGORITHMS: 'HS256,RS256' },
      /HERALD_JWT_ALGORITHMS: RS256 is accepted but no configured key can verify it/,
    ],
    [
      { JWT_SECRET: secret, HERALD_JWT_ALGORITHMS: 'RS256', HERALD_JWT_PUBLIC_KEY: rsaPem },
      /JWT_SECRET: this HS secret verifies HS256\/HS384\/HS512, none of which is accepted/,
    ],
    [
      { HERALD_JWT_ALGORITHMS: 'ES256', HERALD_JWT_PUBLIC_KEY: rsaPem },
      /HERALD_JWT_PUBLIC_KEY: this public key verifies RS256/,
    ],
    [
      { HERALD_JWT_ALGORITHMS: 'RS256', HERALD_JWT_PUBLIC_KEY: 'not a key' },
      /HERALD_JWT_PUBLIC_KEY: expected a PEM/,
    ],
    [
      { HERALD_JWT_ALGORITHMS: 'RS256', HERALD_JWT_PUBLIC_KEY_FILE: '/nonexistent/herald.pem' },
      /HERALD_JWT_PUBLIC_KEY_FILE: could not read \/nonexistent\/herald.pem: ENOENT/,
    ],
    [
      {
        HERALD_JWT_ALGORITHMS: 'RS256',
        HERALD_JWT_PUBLIC_KEY: rsaPem,
        HERALD_JWT_PUBLIC_KEY_FILE: '/etc/hostname',
      },
      /HERALD_JWT_PUBLIC_KEY_FILE: set HERALD_JWT_PUBLIC_KEY or HERALD_JWT_PUBLIC_KEY_FILE, not both/,
    ],
    [{ JWT_SECRET: secret, HERALD_JWT_KEYS: '[{kid:1}]' }, /HERALD_JWT_KEYS: expected a JSON array/],
    [{ JWT_SECRET: secret, HERALD_JWT_KEYS: JSON.stringify([{ secret }]) }, /HERALD_JWT_KEYS\[0\]\.kid/],
    [
      { JWT_SECRET: secret, HERALD_JWT_KEYS: JSON.stringify([{ kid: 'a', secret, publicKey: rsaPem }]) },
      /HERALD_JWT_KEYS\[0\]: expected exactly one of secret, publicKey or publicKeyFile/,
    ],
    [
      { JWT_SECRET: secret, HERALD_JWT_KEYS: JSON.stringify([{ kid: 'a', secret: 'short' }]) },
      /HERALD_JWT_KEYS\[0\]: expected a secret of at least 32 bytes/,
    ],
    [
      {
        JWT_SECRET: secret,
        HERALD_JWT_KEYS: JSON.stringify([
          { kid: 'a', secret },
          { kid: 'a', secret },
        ]),
      },
      /HERALD_JWT_KEYS\[1\]: kid "a" is used by another key/,
    ],
    [
      { JWT_SECRET: secret, HERALD_JWT_CLOCK_TOLERANCE_S: '600' },
      /HERALD_JWT_CLOCK_TOLERANCE_S: expected an integer <= 300/,
    ],
    [{ JWT_SECRET: secret, HERALD_TOKEN_EXPIRY_WARNING_S: '-1' }, /HERALD_TOKEN_EXPIRY_WARNING_S/],
  ])('names the bad variable in %j', (env, message) => {
    expect(() => parseEnv(SocketNodeEnv, env)).toThrow(message);
  });

  it('names the option when a node is started with bad keys', () => {
    expect(() => createTokenVerifier('short')).toThrow(/^jwtSecret: expected a secret of at least 32 bytes$/);
    expect(() => createTokenVerifier(undefined, { keys: [{ kid: 'k', secret: 'short' }] })).toThrow(
      /jwt\.keys\[0\]: expected a secret of at least 32 bytes/,
    );
    expect(() => createTokenVerifier(undefined)).toThrow(/jwtSecret: required/);
    expect(() => createTokenVerifier('short', { minSecretBytes: 1 })).not.toThrow();
  });
});

describe('JWT variables next to other bad variables', () => {
  it('reports both the bad port and the short secret', () => {
    expect(() => parseEnv(SocketNodeEnv, { JWT_SECRET: 'short', PORT: 'eighty' })).toThrow(
      /PORT: .*; JWT_SECRET: expected a secret of at least 32 bytes/,
    );
  });
});
