import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import { verifyAccessToken } from './jwt.js';

const secret = 'unit-test-secret-0123456789abcdefghijkl';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof HeraldError) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('verifyAccessToken', () => {
  it('reads sub, email, role and rooms', () => {
    const token = jwt.sign({ sub: 'u1', email: 'u1@example.com', role: 'admin', rooms: ['team:1'] }, secret, {
      expiresIn: 60,
    });
    expect(verifyAccessToken(token, { secret })).toMatchObject({
      userId: 'u1',
      email: 'u1@example.com',
      role: 'admin',
      rooms: ['team:1'],
    });
  });

  it('falls back to userId and id claims, numbers included', () => {
    expect(verifyAccessToken(jwt.sign({ userId: 42 }, secret), { secret }).userId).toBe('42');
    expect(verifyAccessToken(jwt.sign({ id: 'abc' }, secret), { secret }).userId).toBe('abc');
  });

  it('says why a token is refused', () => {
    expect(codeOf(() => verifyAccessToken(undefined, { secret }))).toBe('missing_token');
    expect(codeOf(() => verifyAccessToken('garbage', { secret }))).toBe('invalid_token');
    expect(
      codeOf(() =>
        verifyAccessToken(jwt.sign({ sub: 'u' }, 'another-secret-of-enough-length-000000'), { secret }),
      ),
    ).toBe('invalid_token');
    expect(
      codeOf(() =>
        verifyAccessToken(jwt.sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) - 60 }, secret), {
          secret,
        }),
      ),
    ).toBe('token_expired');
    expect(
      codeOf(() => verifyAccessToken(jwt.sign({ sub: 'u' }, secret, { algorithm: 'HS512' }), { secret })),
    ).toBe('invalid_token');
    expect(codeOf(() => verifyAccessToken(jwt.sign({ role: 'x' }, secret), { secret }))).toBe(
      'invalid_token',
    );
    expect(codeOf(() => verifyAccessToken(jwt.sign({ sub: 'has space' }, secret), { secret }))).toBe(
      'invalid_token',
    );
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"u"}').toString('base64url')}.`;
    expect(codeOf(() => verifyAccessToken(none, { secret }))).toBe('invalid_token');
  });
});
