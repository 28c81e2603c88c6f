export interface TokenBucketOptions {
  /** Tokens added per second: the sustained rate allowed. Must be > 0. */
  ratePerSecond: number;
  /** Most tokens the bucket holds: how many may be taken at once after a quiet spell. Integer >= 1. */
  burst: number;
  /** Names the option group in range errors, e.g. `SocketNodeOptions.clientEventRate`. @default 'TokenBucket' */
  name?: string;
}

/**
 * A token bucket whose whole state is one number, so callers can keep it wherever
 * they like (a field of `socket.data`, a Map value) without an object per bucket.
 *
 * The number is the "theoretical arrival time" of the generic cell rate algorithm
 * (GCRA, from ATM networks; many API gateways use it): the moment, in ms on
 * `performance.now()`'s clock, at which the bucket would be full again. It behaves
 * exactly like a bucket of `burst` tokens refilled at `ratePerSecond`, without a
 * timer and without storing a token count and a timestamp separately.
 *
 * `undefined` stands for a full bucket (nothing taken yet, or long enough ago).
 *
 * @example
 * const bucket = new TokenBucket({ ratePerSecond: 20, burst: 40 });
 * const next = bucket.take(state, performance.now());
 * if (next === undefined) refuse(); else state = next;
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Milliseconds one token takes to come back. */
  private readonly intervalMs: number;
  /** How far ahead of now the full-again time may run: `burst` tokens' worth. */
  private readonly capacityMs: number;

  constructor(options: TokenBucketOptions) {
    const name = options.name ?? 'TokenBucket';
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`${name}: the rate must be a number above 0, got ${options.ratePerSecond}`);
    }
    if (!Number.isInteger(options.burst) || options.burst < 1) {
      throw new RangeError(`${name}: the burst must be an integer of at least 1, got ${options.burst}`);
    }
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.intervalMs = 1_000 / options.ratePerSecond;
    this.capacityMs = this.intervalMs * options.burst;
  }

  /**
   * Takes one token. Returns the bucket's new state, or `undefined` when it is
   * empty (the caller keeps its old state: a refused take costs nothing).
   */
  take(state: number | undefined, now: number): number | undefined {
    const next = (state === undefined || state < now ? now : state) + this.intervalMs;
    // The small slack absorbs floating-point error for rates like 3/s (333.33… ms).
    return next - now <= this.capacityMs + 1e-6 ? next : undefined;
  }

  /** True when the bucket described by `state` is full again at `now`, so the state can be forgotten. */
  isFull(state: number | undefined, now: number): boolean {
    return state === undefined || state <= now;
  }
}
