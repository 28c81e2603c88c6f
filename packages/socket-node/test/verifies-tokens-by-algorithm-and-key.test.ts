import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { io } from 'socket.io-client';
import { parseEnv, silentLogger } from '@herald/core';
import {
  TEST_JWT_SECRET,
  mintToken,
  mintUnsignedToken,
  signToken,
  spawnApp,
  uniquePrefix,
  uniqueUser,
} from '@herald/testing';
import { SocketNodeEnv, socketNodeOptionsFromEnv, startSocketNode } from '../src/index.js';
import { device, startTestNode, useCleanup } from './support.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const now = () => Math.floor(Date.now() / 1000);

interface Refusal {
  code: string;
  text: string;
}

describe('token verification', () => {
  const defer = useCleanup();

  /** Connects with `token` and resolves with the refusal (code and text), or 'accepted'. */
  async function attempt(url: string, token: string): Promise<Refusal | 'accepted'> {
    const socket = io(url, {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true,
    });
    defer(() => socket.disconnect());
    return new Promise((resolve) => {
      socket.once('authenticated', () => resolve('accepted'));
      socket.once('connect_error', (error: Error & { data?: { message?: string } }) =>
        resolve({ code: error.message, text: error.data?.message ?? '' }),
      );
    });
  }

  it('accepts RS256 and ES256 with the configured public key; refuses key confusion and alg none', async () => {
    const user = uniqueUser();
    const rsNode = await startTestNode(uniquePrefix('jwt'), defer, {
      jwtSecret: undefined,
      jwt: { algorithms: ['RS256'], publicKey: rsaPem },
    });
    const esNode = await startTestNode(uniquePrefix('jwt'), defer, {
      jwtSecret: undefined,
      jwt: { algorithms: ['ES256'], publicKey: ecPem },
    });
    // Both families at once: HS256 with the secret, RS256 with the public key.
    const mixedNode = await startTestNode(uniquePrefix('jwt'), defer, {
      jwt: { algorithms: ['HS256', 'RS256'], publicKey: rsaPem },
    });
    const rs = signToken({ sub: user }, rsa.privateKey, { algorithm: 'RS256', expiresIn: 60 });
    const es = signToken({ sub: user }, ec.privateKey, { algorithm: 'ES256', expiresIn: 60 });
    // Key confusion: HS256 whose HMAC secret is the public key's PEM text, which anyone can read.
    const confused = signToken({ sub: user }, rsaPem, { algorithm: 'HS256', expiresIn: 60 });

    expect(await attempt(rsNode.url, rs)).toBe('accepted');
    expect(await attempt(esNode.url, es)).toBe('accepted');
    expect(await attempt(mixedNode.url, rs)).toBe('accepted');
    expect(await attempt(mixedNode.url, mintToken(user))).toBe('accepted');

    expect(await attempt(rsNode.url, confused)).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/algorithm this server does not accept/),
    });
    expect(await attempt(mixedNode.url, confused)).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/wrongly signed/),
    });
    expect(await attempt(rsNode.url, es)).toMatchObject({ code: 'invalid_token' });
    expect(await attempt(esNode.url, rs)).toMatchObject({ code: 'invalid_token' });
    for (const url of [rsNode.url, esNode.url, mixedNode.url]) {
      expect(await attempt(url, mintUnsignedToken(user))).toEqual({
        code: 'invalid_token',
        text: expect.stringMatching(/alg "none"/),
      });
    }
  });

  it('requires exp, honours nbf within the clock tolerance, checks iss and aud when configured', async () => {
    const { url } = await startTestNode(uniquePrefix('jwt'), defer, {
      jwt: { issuer: ['https://auth.example.com'], audience: ['herald'], clockToleranceS: 5 },
    });
    const user = uniqueUser();
    const good = { issuer: 'https://auth.example.com', audience: 'herald' };
    const sign = (claims: object, options: object = {}) =>
      signToken({ sub: user, ...claims }, TEST_JWT_SECRET, { ...good, ...options });

    expect(await attempt(url, sign({ exp: now() + 60 }))).toBe('accepted');
    expect(await attempt(url, sign({}))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/no exp claim/),
    });
    expect(await attempt(url, sign({ exp: now() + 60, nbf: now() + 60 }))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/not valid yet/),
    });
    expect(await attempt(url, sign({ exp: now() + 60, nbf: now() + 3 }))).toBe('accepted');
    expect(await attempt(url, sign({ exp: now() - 2 }))).toBe('accepted');
    expect(await attempt(url, sign({ exp: now() - 30 }))).toMatchObject({ code: 'token_expired' });
    expect(await attempt(url, sign({ exp: now() + 60 }, { issuer: 'https://evil.example.com' }))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/issuer \(iss\)/),
    });
    expect(await attempt(url, sign({ exp: now() + 60 }, { audience: 'another-app' }))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/audience \(aud\)/),
    });
    expect(await attempt(url, mintToken(user))).toMatchObject({ code: 'invalid_token' });
  });

  it('chooses the key by kid: old and new keys both verify, an unknown kid is refused', async () => {
    const oldSecret = `old-${TEST_JWT_SECRET}`;
    const { url } = await startTestNode(uniquePrefix('jwt'), defer, {
      jwt: {
        algorithms: ['HS256', 'RS256'],
        keys: [
          { kid: '2025-01', secret: oldSecret },
          { kid: '2025-02', publicKey: rsaPem },
        ],
      },
    });
    const user = uniqueUser();
    const claims = { sub: user, exp: now() + 60 };
    expect(await attempt(url, signToken(claims, oldSecret, { keyid: '2025-01' }))).toBe('accepted');
    expect(
      await attempt(url, signToken(claims, rsa.privateKey, { algorithm: 'RS256', keyid: '2025-02' })),
    ).toBe('accepted');
    // Without kid: the default key (JWT_SECRET).
    expect(await attempt(url, signToken(claims, TEST_JWT_SECRET))).toBe('accepted');
    expect(await attempt(url, signToken(claims, oldSecret, { keyid: '2024-12' }))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/\(kid\) this server does not know/),
    });
    // A kid pins its key: the default secret under the old kid, or the old secret without kid, fail.
    expect(await attempt(url, signToken(claims, TEST_JWT_SECRET, { keyid: '2025-01' }))).toMatchObject({
      code: 'invalid_token',
    });
    expect(await attempt(url, signToken(claims, oldSecret))).toMatchObject({ code: 'invalid_token' });
  });

  it('refuses a token over 8 KB as too large before reading it', async () => {
    const { url } = await startTestNode(uniquePrefix('jwt'), defer);
    const user = uniqueUser();
    // Correctly signed: only its size is wrong.
    const big = mintToken(user, { extra: { pad: 'x'.repeat(9 * 1024) } });
    expect(big.length).toBeGreaterThan(9 * 1024);
    expect(await attempt(url, big)).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/too large/),
    });
    // Not even a JWT: refused for its size, so it was never parsed.
    expect(await attempt(url, 'a'.repeat(9 * 1024))).toEqual({
      code: 'invalid_token',
      text: expect.stringMatching(/too large/),
    });
    expect(await attempt(url, mintToken(user, { extra: { pad: 'x'.repeat(4 * 1024) } }))).toBe('accepted');
  });

  it('reads the keys from the environment, a public key file included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-jwt-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const pemFile = join(dir, 'rsa.pem');
    writeFileSync(pemFile, rsaPem);
    const env = parseEnv(SocketNodeEnv, {
      HERALD_JWT_ALGORITHMS: 'RS256,ES256',
      HERALD_JWT_PUBLIC_KEY_FILE: pemFile,
      HERALD_JWT_KEYS: JSON.stringify([{ kid: 'ec-1', publicKey: ecPem.replace(/\n/g, '\\n') }]),
      HERALD_JWT_ISSUER: 'issuer-a',
    });
    const node = await startSocketNode({
      ...socketNodeOptionsFromEnv(env, silentLogger()),
      redisUrl: inject('redisUrl'),
      prefix: uniquePrefix('jwt'),
      port: 0,
      host: '127.0.0.1',
    });
    defer(() => node.close());
    const url = `http://127.0.0.1:${node.port}`;
    const user = uniqueUser();
    const d = await device(url, defer, {
      token: signToken({ sub: user }, rsa.privateKey, {
        algorithm: 'RS256',
        expiresIn: 60,
        issuer: 'issuer-a',
      }),
    });
    expect(d.payloads('authenticated')).toEqual([{ success: true, userId: user, email: null, seq: 0 }]);
    expect(
      await attempt(
        url,
        signToken({ sub: user }, ec.privateKey, {
          algorithm: 'ES256',
          expiresIn: 60,
          issuer: 'issuer-a',
          keyid: 'ec-1',
        }),
      ),
    ).toBe('accepted');
    // No JWT_SECRET and HS256 not accepted: an HS token has no key at all.
    expect(await attempt(url, mintToken(user, { extra: { iss: 'issuer-a' } }))).toMatchObject({
      code: 'invalid_token',
    });
  });

  it('a socket-node process with a 16-character JWT_SECRET exits 1 with one line naming JWT_SECRET', async () => {
    const app = spawnApp('socket-node', {
      REDIS_URL: inject('redisUrl'),
      HERALD_REDIS_PREFIX: uniquePrefix('jwt'),
      JWT_SECRET: 'sixteen-chars-00',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    defer(() => app.stop('SIGKILL'));
    // 'close' comes after the output streams ended, so output() is complete. Start-up takes far
    // longer than reaching this line, so the event cannot have passed already.
    const [code] = (await once(app.child, 'close')) as [number | null];
    expect(code).toBe(1);
    const lines = app.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/JWT_SECRET: expected a secret of at least 32 bytes/);
  });
});
