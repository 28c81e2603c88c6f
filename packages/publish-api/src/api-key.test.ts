import { describe, expect, it } from 'vitest';
import { createApiKeyCheck } from './api-key.js';

describe('createApiKeyCheck', () => {
  const check = createApiKeyCheck('a-key-of-at-least-16-chars');

  it('accepts the key as a bearer token', () => {
    expect(check('Bearer a-key-of-at-least-16-chars')).toBe(true);
    expect(check('bearer a-key-of-at-least-16-chars')).toBe(true);
  });

  it('refuses a missing, empty, wrong, longer, shorter or non-bearer key', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer wrong-key-of-at-least-16',
      'Bearer a-key-of-at-least-16-chars-and-more',
      'Bearer a-key-of-at-least-16-char',
      'Basic a-key-of-at-least-16-chars',
      'a-key-of-at-least-16-chars',
      'Bearer a-key-of-at-least-16-chars extra',
    ]) {
      expect(check(header), String(header)).toBe(false);
    }
  });
});
