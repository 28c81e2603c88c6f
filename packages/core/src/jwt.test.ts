import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import { verifyAccessToken, type VerifyTokenOptions } from './jwt.js';
import { createKeyRing } from './jwt-keys.js';

const secret = 'unit-test-secret-0123456789abcdefghijkl';
const now = () => Math.floor(Date.now() / 1000);

function outcome(token: string | undefined, options: VerifyTokenOptions): string {
  try {
    return `accepted:${verifyAccessToken(token, options).userId}`;
  } catch (error) {
    if (error instanceof HeraldError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

function codeOf(token: string | undefined, options: VerifyTokenOptions): string {
  return outcome(token, options).split(':')[0]!;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('verifyAccessToken', () => {
  it('reads sub, email, role, rooms and exp', () => {
    const token = jwt.sign({ sub: 'u1', email: 'u1@example.com', role: 'admin', rooms: ['team:1'] }, secret, {
      expiresIn: 60,
    });
    expect(verifyAccessToken(token, { secret })).toEqual({
      userId: 'u1',
      email: 'u1@example.com',
      role: 'admin',
      rooms: ['team:1'],
      exp: expect.any(Number),
    });
  });

  it('falls back to userId and id claims, numbers included', () => {
    expect(verifyAccessToken(jwt.sign({ userId: 42 }, secret, { expiresIn: 60 }), { secret }).userId).toBe(
      '42',
    );
    expect(verifyAccessToken(jwt.sign({ id: 'abc' }, secret, { expiresIn: 60 }), { secret }).userId).toBe(
      'abc',
    );
  });

  it('takes the first user id claim present and refuses it when malformed, never falling through to the next', () => {
    const sign = (claims: object) => jwt.sign(claims, secret, { expiresIn: 60 });
    expect(outcome(sign({ sub: 42 }), { secret })).toMatch(/invalid_token: .*sub: must be a string of/);
    expect(outcome(sign({ sub: 'a{b', userId: 'fine' }), { secret })).toMatch(/sub: contains '\{'/);
    expect(outcome(sign({ userId: 'a b', id: 'fine' }), { secret })).toMatch(/userId: contains U\+0020/);
    expect(outcome(sign({ sub: 'u', id: 'not used {' }), { secret })).toBe('accepted:u');
    expect(outcome(sign({ sub: 'u', rooms: 'x' }), { secret })).toMatch(
      /invalid claims: rooms: must be an array of room names, e\.g\. \["team-1"\]; got a string/,
    );
  });

  it('says why a token is refused', () => {
    const sign = (claims: object, options: jwt.SignOptions = {}) =>
      jwt.sign(claims, secret, { expiresIn: 60, ...options });
    expect(codeOf(undefined, { secret })).toBe('missing_token');
    expect(codeOf('garbage', { secret })).toBe('invalid_token');
    expect(outcome(jwt.sign({ sub: 'u' }, 'another-secret-of-enough-length-000000'), { secret })).toMatch(
      /wrongly signed/,
    );
    expect(codeOf(jwt.sign({ sub: 'u', exp: now() - 60 }, secret), { secret })).toBe('token_expired');
    expect(outcome(sign({ sub: 'u' }, { algorithm: 'HS512' }), { secret })).toMatch(/accepted: HS256/);
    expect(outcome(sign({ role: 'x' }), { secret })).toMatch(/no valid user id/);
    expect(codeOf(sign({ sub: 'has space' }), { secret })).toBe('invalid_token');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"u","exp":${now() + 60}}`).toString('base64url')}.`;
    expect(outcome(none, { secret })).toMatch(/invalid_token: .*alg "none"/);
  });

  it('requires exp', () => {
    expect(outcome(jwt.sign({ sub: 'u' }, secret), { secret })).toMatch(/invalid_token: .*no exp claim/);
  });

  it('honours nbf within the clock tolerance', () => {
    const soon = jwt.sign({ sub: 'u', nbf: now() + 3 }, secret, { expiresIn: 60 });
    expect(outcome(soon, { secret, clockToleranceS: 0 })).toMatch(/invalid_token: .*not valid yet/);
    expect(outcome(soon, { secret, clockToleranceS: 5 })).toBe('accepted:u');
    // And exp likewise: expired 3 s ago is still fine with 5 s of tolerance, not with 0.
    const justExpired = jwt.sign({ sub: 'u', exp: now() - 3 }, secret);
    expect(codeOf(justExpired, { secret, clockToleranceS: 0 })).toBe('token_expired');
    expect(outcome(justExpired, { secret })).toBe('accepted:u');
  });

  it('checks iss and aud only when configured', () => {
    const token = jwt.sign({ sub: 'u' }, secret, { expiresIn: 60, issuer: 'auth-a', audience: 'herald' });
    const bare = jwt.sign({ sub: 'u' }, secret, { expiresIn: 60 });
    expect(outcome(token, { secret, issuer: ['auth-a', 'auth-b'], audience: 'herald' })).toBe('accepted:u');
    expect(outcome(token, { secret, issuer: [], audience: [] })).toBe('accepted:u');
    expect(outcome(token, { secret, issuer: 'auth-b' })).toMatch(/issuer \(iss\)/);
    expect(outcome(token, { secret, audience: ['other'] })).toMatch(/audience \(aud\)/);
    expect(outcome(bare, { secret, issuer: 'auth-a' })).toMatch(/issuer \(iss\)/);
    expect(outcome(bare, { secret, audience: 'herald' })).toMatch(/audience \(aud\)/);
  });

  it('refuses a token over 8 KB before decoding it', () => {
    const big = jwt.sign({ sub: 'u', pad: 'x'.repeat(9 * 1024) }, secret, { expiresIn: 60 });
    expect(outcome(big, { secret })).toMatch(/invalid_token: .*too large/);
    // Not even a JWT: refused for its size, not for its shape.
    expect(outcome('a'.repeat(8 * 1024 + 1), { secret })).toMatch(/too large/);
    // Multi-byte characters count as bytes.
    expect(outcome('é'.repeat(4 * 1024 + 1), { secret })).toMatch(/too large/);
  });

  it('verifies RS256 and ES256 with public keys, and refuses key confusion', () => {
    const keys = createKeyRing({
      algorithms: ['RS256', 'ES256'],
      keys: [{ publicKey: rsaPem }, { publicKey: ecPem }],
    });
    const rs = jwt.sign({ sub: 'r' }, rsa.privateKey, { algorithm: 'RS256', expiresIn: 60 });
    const es = jwt.sign({ sub: 'e' }, ec.privateKey, { algorithm: 'ES256', expiresIn: 60 });
    expect(outcome(rs, { keys })).toBe('accepted:r');
    expect(outcome(es, { keys })).toBe('accepted:e');
    // The attack: HS256 signed with the public key's PEM text as the HMAC secret.
    const confused = jwt.sign({ sub: 'evil' }, rsaPem, { algorithm: 'HS256', expiresIn: 60 });
    expect(codeOf(confused, { keys })).toBe('invalid_token');
    // Still refused when HS256 is accepted too: the secret is another key, and the public key never does HS.
    const both = createKeyRing({
      algorithms: ['HS256', 'RS256'],
      keys: [{ secret }, { publicKey: rsaPem }],
    });
    expect(outcome(confused, { keys: both })).toMatch(/wrongly signed/);
    expect(outcome(rs, { keys: both })).toBe('accepted:r');
    // And the public key can not be configured as a secret in the first place.
    expect(() => createKeyRing({ keys: [{ secret: rsaPem }] })).toThrow(/PEM key is not an HS secret/);
    // An ES token presented as RS256 (or the reverse) is refused.
    const esAsRs = `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${es.split('.').slice(1).join('.')}`;
    expect(codeOf(esAsRs, { keys })).toBe('invalid_token');
  });

  it('chooses the key by kid, so old and new keys verify side by side', () => {
    const oldSecret = 'old-secret-0123456789abcdefghijklmnop';
    const keys = createKeyRing({
      algorithms: ['HS256', 'RS256'],
      keys: [{ secret }, { kid: 'old', secret: oldSecret }, { kid: 'new', publicKey: rsaPem }],
    });
    const viaOld = jwt.sign({ sub: 'a' }, oldSecret, { expiresIn: 60, keyid: 'old' });
    const viaNew = jwt.sign({ sub: 'b' }, rsa.privateKey, {
      algorithm: 'RS256',
      expiresIn: 60,
      keyid: 'new',
    });
    const viaDefault = jwt.sign({ sub: 'c' }, secret, { expiresIn: 60 });
    expect(outcome(viaOld, { keys })).toBe('accepted:a');
    expect(outcome(viaNew, { keys })).toBe('accepted:b');
    expect(outcome(viaDefault, { keys })).toBe('accepted:c');
    // A kid names exactly one key: the right secret under another kid is wrongly signed.
    expect(codeOf(jwt.sign({ sub: 'a' }, oldSecret, { expiresIn: 60, keyid: 'new' }), { keys })).toBe(
      'invalid_token',
    );
    expect(codeOf(jwt.sign({ sub: 'a' }, secret, { expiresIn: 60, keyid: 'old' }), { keys })).toBe(
      'invalid_token',
    );
    expect(outcome(jwt.sign({ sub: 'a' }, secret, { expiresIn: 60, keyid: 'gone' }), { keys })).toMatch(
      /kid\) this server does not know/,
    );
  });
});

describe('createKeyRing', () => {
  it('names each problem with the key label', () => {
    const attempt = (options: Parameters<typeof createKeyRing>[0]) => {
      try {
        createKeyRing(options);
        return 'built';
      } catch (error) {
        return error instanceof HeraldError ? `${error.code} ${error.message}` : String(error);
      }
    };
    expect(attempt({ keys: [{ secret: 's'.repeat(16), label: 'JWT_SECRET' }] })).toMatch(
      /invalid_config .*JWT_SECRET: expected a secret of at least 32 bytes/,
    );
    expect(attempt({ keys: [{ secret: 's'.repeat(16) }], minSecretBytes: 8 })).toBe('built');
    const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(attempt({ keys: [{ publicKey: privatePem, label: 'PK' }], algorithms: ['RS256'] })).toMatch(
      /PK: this is a private key/,
    );
    expect(attempt({ keys: [{ publicKey: 'nope' }], algorithms: ['RS256'] })).toMatch(/expected a PEM/);
    expect(attempt({ keys: [{ secret }], algorithms: ['RS256'] })).toMatch(
      /keys\[0\]: this HS secret verifies HS256\/HS384\/HS512, none of which is accepted/,
    );
    expect(attempt({ keys: [{ secret }], algorithms: ['HS256', 'ES256'] })).toMatch(
      /algorithms: ES256 is accepted but no configured key can verify it/,
    );
    expect(
      attempt({
        keys: [
          { kid: 'a', secret },
          { kid: 'a', secret },
        ],
      }),
    ).toMatch(/kid "a" is used by another key/);
    expect(attempt({ keys: [{ secret }, { secret }] })).toMatch(/two default keys/);
    expect(attempt({ keys: [] })).toMatch(/at least one verification key/);
    expect(attempt({ keys: [{ secret }], algorithms: ['none' as 'HS256'] })).toMatch(/"none" is not one of/);
    expect(attempt({ keys: [{ publicKey: ecPem }], algorithms: ['ES384'] })).toMatch(
      /verifies ES256, none of which is accepted/,
    );
  });
});
