import { describe, expect, it } from 'vitest';
import { isHeraldError } from '@herald/contracts';
import { extractToken, refusal } from './authenticate.js';

describe('extractToken', () => {
  it('prefers auth.token, then the Authorization header', () => {
    expect(extractToken({ token: 'a.b.c' }, 'Bearer x.y.z')).toBe('a.b.c');
    expect(extractToken({}, 'Bearer x.y.z')).toBe('x.y.z');
    expect(extractToken({ token: '' }, 'bearer x.y.z')).toBe('x.y.z');
    expect(extractToken({ token: 'Bearer a.b.c' }, undefined)).toBe('a.b.c');
  });

  it('returns nothing when there is no token', () => {
    expect(extractToken({}, undefined)).toBeUndefined();
    expect(extractToken(undefined, undefined)).toBeUndefined();
    expect(extractToken({ token: null }, '')).toBeUndefined();
  });

  it('calls a non-string token or a non-Bearer header invalid', () => {
    for (const [auth, header] of [
      [{ token: 42 }, undefined],
      [{ token: { nested: true } }, undefined],
      [{}, 'Basic dXNlcjpwYXNz'],
      [{}, 'Bearer'],
    ] as const) {
      try {
        extractToken(auth, header);
        expect.unreachable();
      } catch (error) {
        expect(isHeraldError(error, 'invalid_token')).toBe(true);
      }
    }
  });
});

describe('refusal', () => {
  it('carries the code as message and a sentence for people as data', () => {
    const error = refusal('missing_token');
    expect(error.message).toBe('missing_token');
    expect(error.data).toEqual({ code: 'missing_token', message: expect.stringMatching(/auth\.token/) });
  });
});
