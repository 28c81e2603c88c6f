import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, envInt, envList, parseEnv } from './config.js';

const schema = z.object({
  ...commonEnv,
  PORT: envInt(0, 65_535).default(3000),
  CORS_ORIGIN: envList.default([]),
});

describe('parseEnv', () => {
  it('applies defaults and treats empty strings as unset', () => {
    const config = parseEnv(schema, { PORT: '', CORS_ORIGIN: 'http://a.test, http://b.test' });
    expect(config).toMatchObject({
      PORT: 3000,
      REDIS_URL: 'redis://127.0.0.1:6379',
      HERALD_REDIS_PREFIX: '{herald}',
    });
    expect(config.CORS_ORIGIN).toEqual(['http://a.test', 'http://b.test']);
  });

  it('names each bad variable in one line', () => {
    let message = '';
    try {
      parseEnv(schema, { PORT: 'eighty', HERALD_REDIS_PREFIX: 'herald' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: [^\n]+$/);
    expect(message).toContain('PORT: expected an integer');
    expect(message).toContain('HERALD_REDIS_PREFIX: expected a hash-tagged prefix');
    expect(() => parseEnv(schema, { REDIS_URL: 'http://x' })).toThrow(/REDIS_URL: expected a redis:\/\//);
  });
});
