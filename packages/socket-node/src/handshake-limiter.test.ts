import { describe, expect, it } from 'vitest';
import { HandshakeLimiter } from './handshake-limiter.js';

describe('HandshakeLimiter', () => {
  it('allows the burst per address, refuses beyond it, and each address has its own', () => {
    const limiter = new HandshakeLimiter({ ratePerSecond: 5, burst: 5 });
    const results = Array.from({ length: 6 }, () => limiter.allow('203.0.113.1', 0));
    expect(results).toEqual([true, true, true, true, true, false]);
    expect(limiter.allow('203.0.113.2', 0)).toBe(true);
    // One handshake's worth (200 ms) later, one more.
    expect(limiter.allow('203.0.113.1', 200)).toBe(true);
    expect(limiter.allow('203.0.113.1', 200)).toBe(false);
  });

  it('has the documented defaults: 100 at once, then 50 per second', () => {
    const limiter = new HandshakeLimiter();
    let allowed = 0;
    for (let i = 0; i < 150; i++) if (limiter.allow('a', 0)) allowed++;
    expect(allowed).toBe(100);
    for (let i = 0; i < 150; i++) if (limiter.allow('a', 1_000)) allowed++;
    expect(allowed).toBe(150);
  });

  it('stays bounded under address churn and forgets addresses whose bucket refilled', () => {
    const limiter = new HandshakeLimiter({
      ratePerSecond: 1,
      burst: 2,
      maxAddresses: 1_000,
      pruneIntervalMs: 5_000,
    });
    for (let i = 0; i < 50_000; i++) limiter.allow(`spoofed-${i}`, i / 100);
    expect(limiter.size).toBe(1_000);
    // Busy addresses stay remembered while the churn evicts others: the least recently allowed go first.
    limiter.allow('busy', 600);
    limiter.allow('busy', 600);
    expect(limiter.allow('busy', 600)).toBe(false);
    for (let i = 0; i < 999; i++) limiter.allow(`more-${i}`, 600);
    expect(limiter.allow('busy', 600)).toBe(false);
    // Once every bucket is full again (2 s at 1/s), the next prune empties the map.
    limiter.allow('late', 10_000);
    expect(limiter.size).toBe(1);
  });
});
