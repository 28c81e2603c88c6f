import { TokenBucket } from './token-bucket.js';

export const DEFAULT_HANDSHAKE_RATE = 50;
export const DEFAULT_HANDSHAKE_BURST = 100;

export interface HandshakeLimiterOptions {
  /** Handshakes one address may start per second, sustained. @default 50 */
  ratePerSecond?: number;
  /** Handshakes one address may start at once. Generous, since offices and mobile carriers share addresses. @default 100 */
  burst?: number;
  /** Most addresses remembered at once; beyond it the least recently allowed one is forgotten. @default 100_000 */
  maxAddresses?: number;
  /** How often, at most, full buckets are swept out (during a handshake; there is no timer). @default 10_000 */
  pruneIntervalMs?: number;
}

/**
 * Handshakes per client address, per node: one `TokenBucket` state (a number) per
 * address in a Map. Memory stays bounded whatever addresses arrive: an address
 * whose bucket is full again is the same as an unknown one, so those are swept out
 * every `pruneIntervalMs`, and past `maxAddresses` the least recently allowed address
 * is dropped (at worst it gets a fresh burst: a bounded map is worth that).
 *
 * @example
 * const limiter = new HandshakeLimiter({ ratePerSecond: 50, burst: 100 });
 * if (!limiter.allow(address)) refuse('rate_limited');
 */
export class HandshakeLimiter {
  private readonly bucket: TokenBucket;
  private readonly buckets = new Map<string, number>();
  private readonly maxAddresses: number;
  private readonly pruneIntervalMs: number;
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(options: HandshakeLimiterOptions = {}) {
    this.bucket = new TokenBucket({
      ratePerSecond: options.ratePerSecond ?? DEFAULT_HANDSHAKE_RATE,
      burst: options.burst ?? DEFAULT_HANDSHAKE_BURST,
      name: 'SocketNodeOptions.handshakeRate/handshakeBurst',
    });
    this.maxAddresses = options.maxAddresses ?? 100_000;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 10_000;
    if (!Number.isInteger(this.maxAddresses) || this.maxAddresses < 1) {
      throw new RangeError(
        `HandshakeLimiter: maxAddresses must be an integer >= 1, got ${this.maxAddresses}`,
      );
    }
    if (!(this.pruneIntervalMs >= 0)) {
      throw new RangeError(`HandshakeLimiter: pruneIntervalMs must be >= 0, got ${this.pruneIntervalMs}`);
    }
  }

  /** Counts one handshake from `address`; false when that address is over its limit. */
  allow(address: string, now = performance.now()): boolean {
    if (now - this.lastPrune >= this.pruneIntervalMs) this.prune(now);
    const state = this.buckets.get(address);
    const next = this.bucket.take(state, now);
    if (next === undefined) return false;
    if (state === undefined) {
      // Not a sweep here: under churn that would cost a pass over the whole map per handshake.
      // Map iteration follows insertion order, and `allow` re-inserts on each use, so the
      // first key is the least recently allowed address.
      if (this.buckets.size >= this.maxAddresses) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      this.buckets.delete(address);
    }
    this.buckets.set(address, next);
    return true;
  }

  /** Forgets every address whose bucket is full again. */
  prune(now = performance.now()): void {
    this.lastPrune = now;
    for (const [address, state] of this.buckets) {
      if (this.bucket.isFull(state, now)) this.buckets.delete(address);
    }
  }

  /** Addresses remembered right now. */
  get size(): number {
    return this.buckets.size;
  }
}
