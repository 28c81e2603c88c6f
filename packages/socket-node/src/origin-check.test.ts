import { describe, expect, it } from 'vitest';
import { corsOptions, createOriginCheck, describeBadOrigins } from './origin-check.js';

describe('createOriginCheck', () => {
  const check = createOriginCheck(['https://app.example.com', 'http://localhost:5173']);

  it('allows listed origins exactly, no Origin at all, and the same origin', () => {
    expect(check('https://app.example.com', 'herald.example.com')).toBe(true);
    expect(check('http://localhost:5173', 'localhost:3000')).toBe(true);
    expect(check(undefined, 'herald.example.com')).toBe(true);
    expect(check('http://localhost:3000', 'localhost:3000')).toBe(true);
  });

  it.each([
    'https://evil.example.com',
    'https://app.example.com.evil.net',
    'http://app.example.com',
    'https://app.example.com:8443',
    'http://localhost:5174',
    'null',
    '',
  ])('refuses %j', (origin) => {
    expect(check(origin, 'localhost:3000')).toBe(false);
  });

  it('allows any origin only with "*"', () => {
    expect(createOriginCheck(['*'])('https://anything.example', 'h')).toBe(true);
    expect(createOriginCheck([])('https://anything.example', 'h')).toBe(false);
  });
});

describe('corsOptions', () => {
  it('never sends credentials together with "*"', () => {
    expect(corsOptions(['*'])).toMatchObject({ origin: '*', credentials: false });
    expect(corsOptions(['https://a.example'])).toMatchObject({
      origin: ['https://a.example'],
      credentials: true,
    });
  });
});

describe('describeBadOrigins', () => {
  it.each([
    [[], undefined],
    [['*'], undefined],
    [['https://a.example', 'http://localhost:5173'], undefined],
    [['*', 'https://a.example'], /only entry/],
    [['https://a.example/'], /not an exact origin/],
    [['a.example'], /not an exact origin/],
    [['https://*.example.com'], /not an exact origin/],
  ])('%j', (origins, problem) => {
    const found = describeBadOrigins(origins);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
