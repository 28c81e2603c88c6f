/** What the caller should do about acks now. */
export type AckDecision =
  { action: 'idle' } | { action: 'send'; seq: number } | { action: 'wait'; ms: number };

export interface AckBatcherOptions {
  /** How long a handled seq may wait for others to share its ack. @default 5_000 */
  delayMs?: number;
  /** Handled seqs after which the ack goes out without waiting for `delayMs`. @default 100 */
  batchSize?: number;
  /**
   * Acks per second at most, sustained (bursts of as many). The node allows 20 client
   * events per second per socket, and syncs share that budget. @default 10
   */
  maxPerSecond?: number;
}

/**
 * 5 s: the fallback check waits `HERALD_ACK_TIMEOUT_MS` (30 s) for an ack, so an ack a few
 * seconds late changes nothing, while every ack costs the device a packet, the node a parse
 * and a Redis script, and all three CPU that events need. With 2,000 devices in the bench,
 * 1 s meant 0.55 acks per event at 2,000/s and 0.1 at 16,500/s; 5 s cut those to 0.17
 * and 0.02 (`pnpm bench --ack-delay-ms 5000`; 100 ms had meant 0.99). What a device handled
 * but has not acked yet goes at once when the client is closed, and when the page is hidden
 * (in a browser), so a closed tab does not leave seconds of events to be emailed.
 */
export const DEFAULT_ACK_DELAY_MS = 5_000;
export const DEFAULT_ACK_BATCH_SIZE = 100;
export const DEFAULT_ACKS_PER_SECOND = 10;

/**
 * Batches cumulative acks without owning a timer: the caller reports handled seqs
 * (`handled`), asks what to do (`decide`), sends, and confirms (`sent`). One ack covers
 * every seq up to it, so only the latest matters; it goes out `delayMs` after the first
 * unacked seq, sooner when `batchSize` are waiting, never more than `maxPerSecond`.
 */
export class AckBatcher {
  readonly delayMs: number;
  readonly batchSize: number;
  readonly maxPerSecond: number;
  #latest = 0;
  #sent = 0;
  /** When `latest` first went past `sent`. */
  #waitingSince = 0;
  #tokens: number;
  #tokensAt = Number.NEGATIVE_INFINITY;

  constructor(options: AckBatcherOptions = {}) {
    this.delayMs = options.delayMs ?? DEFAULT_ACK_DELAY_MS;
    this.batchSize = options.batchSize ?? DEFAULT_ACK_BATCH_SIZE;
    this.maxPerSecond = options.maxPerSecond ?? DEFAULT_ACKS_PER_SECOND;
    if (!Number.isFinite(this.delayMs) || this.delayMs < 0) {
      throw new RangeError(`ackDelayMs must be a number >= 0, got ${String(options.delayMs)}`);
    }
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError(`ackBatchSize must be an integer >= 1, got ${String(options.batchSize)}`);
    }
    if (!Number.isFinite(this.maxPerSecond) || this.maxPerSecond <= 0) {
      throw new RangeError(`maxAcksPerSecond must be a number > 0, got ${String(options.maxPerSecond)}`);
    }
    this.#tokens = this.#burst;
  }

  /** The latest seq handled. */
  get latest(): number {
    return this.#latest;
  }

  /** The latest seq acked. */
  get acked(): number {
    return this.#sent;
  }

  /**
   * Starts over at `seq` as if it were acked: a new user, or a cursor that started at
   * the node's latest seq. That start is not acked, since this device handled none of it.
   */
  reset(seq: number): void {
    this.#latest = seq;
    this.#sent = seq;
  }

  /** The app handled everything up to `seq`. */
  handled(seq: number, now: number): void {
    if (seq <= this.#latest) return;
    if (this.#latest <= this.#sent) this.#waitingSince = now;
    this.#latest = seq;
  }

  /** Whether an ack is due now, later, or not at all. */
  decide(now: number): AckDecision {
    if (this.#latest <= this.#sent) return { action: 'idle' };
    const dueAt = this.#latest - this.#sent >= this.batchSize ? now : this.#waitingSince + this.delayMs;
    const tokenAt = this.#tokenAt(now);
    const at = Math.max(dueAt, tokenAt);
    return at <= now ? { action: 'send', seq: this.#latest } : { action: 'wait', ms: Math.ceil(at - now) };
  }

  /** `seq` went out on a connected socket. */
  sent(seq: number, now: number): void {
    this.#refill(now);
    this.#tokens = Math.max(0, this.#tokens - 1);
    if (seq > this.#sent) this.#sent = seq;
    if (this.#latest > this.#sent) this.#waitingSince = now;
  }

  get #burst(): number {
    return Math.max(1, this.maxPerSecond);
  }

  #refill(now: number): void {
    if (this.#tokensAt !== Number.NEGATIVE_INFINITY) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + ((now - this.#tokensAt) * this.maxPerSecond) / 1000,
      );
    }
    this.#tokensAt = now;
  }

  /** When the next token is there. */
  #tokenAt(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? now : now + ((1 - this.#tokens) * 1000) / this.maxPerSecond;
  }
}
