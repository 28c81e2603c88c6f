import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** Takes `count` tokens at `now`, returning how many were granted and the final state. */
function takeMany(bucket: TokenBucket, state: number | undefined, now: number, count: number) {
  let granted = 0;
  for (let i = 0; i < count; i++) {
    const next = bucket.take(state, now);
    if (next !== undefined) {
      state = next;
      granted++;
    }
  }
  return { granted, state };
}

describe('TokenBucket', () => {
  it('grants the burst at once, then refills at the rate', () => {
    const bucket = new TokenBucket({ ratePerSecond: 20, burst: 40 });
    const first = takeMany(bucket, undefined, 1_000, 60);
    expect(first.granted).toBe(40);
    // 500 ms later, 10 tokens came back.
    expect(takeMany(bucket, first.state, 1_500, 60).granted).toBe(10);
    // After a quiet spell of burst / rate = 2 s it is full again, and no fuller.
    expect(bucket.isFull(first.state, 3_000)).toBe(true);
    expect(takeMany(bucket, first.state, 60_000, 60).granted).toBe(40);
  });

  it('holds a sustained rate exactly, also for rates that do not divide 1000 ms', () => {
    const bucket = new TokenBucket({ ratePerSecond: 3, burst: 3 });
    let state: number | undefined;
    let granted = 0;
    // One take per ms for 10 s: the burst of 3, then one per 333.3 ms (the 30th would fall at 10 s).
    for (let now = 0; now < 10_000; now++) {
      const next = bucket.take(state, now);
      if (next !== undefined) {
        state = next;
        granted++;
      }
    }
    expect(granted).toBe(3 + 29);
  });

  it('refuses without changing the state', () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1 });
    const state = bucket.take(undefined, 0);
    expect(state).toBe(1_000);
    expect(bucket.take(state, 10)).toBeUndefined();
    expect(bucket.take(state, 1_000)).toBe(2_000);
  });

  it.each([
    [{ ratePerSecond: 0, burst: 1 }, /rate must be a number above 0/],
    [{ ratePerSecond: Number.NaN, burst: 1 }, /rate/],
    [{ ratePerSecond: 1, burst: 0 }, /burst must be an integer of at least 1/],
    [{ ratePerSecond: 1, burst: 1.5 }, /burst/],
  ])('refuses bad options %j', (options, message) => {
    expect(() => new TokenBucket(options)).toThrow(message);
  });
});
