import { describe, expect, it } from 'vitest';
import { createRateMeter } from './rate-meter.js';

describe('createRateMeter', () => {
  it('tells the rate of the last full window, and drops to it once a quiet window passes', () => {
    let now = 0;
    const meter = createRateMeter(100, () => now);
    for (let i = 0; i < 50; i++) {
      meter.add(1);
      now += 2; // 500 arrivals/s
    }
    expect(meter.perSecond()).toBe(500);
    now += 1_000; // nothing for a second: the window that closes now held nothing
    expect(meter.perSecond()).toBe(0);
    meter.add(30);
    expect(meter.perSecond()).toBe(0); // the new window is not full yet
    now += 100;
    expect(meter.perSecond()).toBe(300);
  });

  it('spreads a window that ran long over all of it', () => {
    let now = 0;
    const meter = createRateMeter(100, () => now);
    meter.add(10);
    now += 500;
    expect(meter.perSecond()).toBe(20);
  });
});
