import { describe, expect, it } from 'vitest';
import { MARK_RUN_ALLOWANCE_MS, fallbackMarkTtlMs } from './mark-ttl.js';

/** The defaults: the dispatcher's 8 attempts from 1 s, 10 s locks, the socket nodes' 20 s presence. */
const defaults = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  dispatcherLockMs: 10_000,
  fallbackLockMs: 10_000,
  presenceTtlMs: 20_000,
};

describe('fallbackMarkTtlMs', () => {
  it('is 657.25 s with the defaults, not a week', () => {
    // 4 × 15 s (redeliveries of a stream entry) + 127 s (1 + 2 + … + 64 s of backoff) + 10 × 15 s
    // (worker deaths) + 20.25 s (presence wait) + 300 s (runs and queue waits).
    expect(fallbackMarkTtlMs(defaults)).toBe(60_000 + 127_000 + 150_000 + 20_250 + 300_000);
  });

  it('grows with each setting it is derived from', () => {
    const base = fallbackMarkTtlMs(defaults);
    // One more attempt doubles the last backoff: 128 s more.
    expect(fallbackMarkTtlMs({ ...defaults, attempts: 9 }) - base).toBe(128_000);
    expect(fallbackMarkTtlMs({ ...defaults, backoff: { type: 'exponential', delay: 2_000 } }) - base).toBe(
      127_000,
    );
    // A 1 s longer lock: 1.5 s later each of the 4 redeliveries and of the worker's 10 take-ups.
    expect(fallbackMarkTtlMs({ ...defaults, dispatcherLockMs: 11_000 }) - base).toBe(6_000);
    expect(fallbackMarkTtlMs({ ...defaults, fallbackLockMs: 11_000 }) - base).toBe(15_000);
    expect(fallbackMarkTtlMs({ ...defaults, presenceTtlMs: 30_000 }) - base).toBe(10_000);
  });

  it('counts a fixed backoff (or a bare number, as BullMQ reads it) once per retry, and none without one', () => {
    const locksAndWaits = 60_000 + 150_000 + 20_250 + MARK_RUN_ALLOWANCE_MS;
    expect(fallbackMarkTtlMs({ ...defaults, backoff: { type: 'fixed', delay: 1_000 } })).toBe(
      locksAndWaits + 7_000,
    );
    expect(fallbackMarkTtlMs({ ...defaults, backoff: 1_000 })).toBe(locksAndWaits + 7_000);
    const { backoff: _none, ...noBackoff } = defaults;
    expect(fallbackMarkTtlMs(noBackoff)).toBe(locksAndWaits);
    expect(fallbackMarkTtlMs({ ...defaults, attempts: 1 })).toBe(locksAndWaits);
  });

  it('stays a number Redis takes as an expiry for the longest schedule the dispatcher accepts', () => {
    const ttl = fallbackMarkTtlMs({
      ...defaults,
      attempts: 100,
      backoff: { type: 'exponential', delay: 3_600_000 },
    });
    expect(Number.isSafeInteger(ttl)).toBe(true);
  });
});
