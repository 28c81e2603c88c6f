import { describe, expect, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import { createPublisher } from './publisher.js';

describe('createPublisher options', () => {
  it('refuses to start without redisUrl or connection', () => {
    expect(() => createPublisher({})).toThrowError(HeraldError);
    expect(() => createPublisher({})).toThrowError(/redisUrl .* or connection/);
    try {
      createPublisher({});
    } catch (error) {
      expect((error as HeraldError).code).toBe('invalid_config');
    }
  });

  it('refuses an empty prefix', () => {
    expect(() => createPublisher({ redisUrl: 'redis://127.0.0.1:1', prefix: '' })).toThrowError(/prefix/);
  });

  it('refuses a maxPayloadBytes that is not a positive integer up to 64 MiB, naming it', () => {
    for (const maxPayloadBytes of [0, -1, 1.5, Number.NaN, 64 * 1024 * 1024 + 1]) {
      expect(() => createPublisher({ redisUrl: 'redis://127.0.0.1:1', maxPayloadBytes })).toThrowError(
        /maxPayloadBytes must be an integer from 1 to 67108864/,
      );
    }
  });
});
