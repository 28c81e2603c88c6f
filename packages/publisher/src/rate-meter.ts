/** Counts arrivals and tells the rate of the last full window. */
export interface RateMeter {
  /** Counts `n` arrivals now. */
  add(n: number): void;
  /** Arrivals per second over the last full window (0 before the first one ends, or after a quiet window). */
  perSecond(): number;
}

/**
 * A rate over fixed windows of `windowMs`: cheap enough to call per publish (one clock
 * read), and a burst shows after one window, a lull as soon as a window passes quiet.
 */
export function createRateMeter(windowMs: number, clock: () => number = () => performance.now()): RateMeter {
  let windowStart = clock();
  let count = 0;
  let rate = 0;
  const roll = (now: number) => {
    const elapsed = now - windowStart;
    if (elapsed < windowMs) return;
    // A window that ran long (nothing arrived to close it) spreads its count over all of it.
    rate = (count * 1000) / elapsed;
    windowStart = now;
    count = 0;
  };
  return {
    add(n) {
      roll(clock());
      count += n;
    },
    perSecond() {
      roll(clock());
      return rate;
    },
  };
}
