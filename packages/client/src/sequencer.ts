import type { DeliveryMeta, GapPayload } from '@herald/contracts';

/** A replay cursor: the last seq of `userId` this device handled. */
export interface Cursor {
  userId: string;
  lastSeq: number;
}

/** One thing to hand to the app, in the order the sequencer releases them. */
export type Delivery =
  | {
      kind: 'event';
      event: string;
      payload: unknown;
      meta: DeliveryMeta;
      /** Which cursor this delivery counts for (see `Sequencer.handled`). */
      generation: number;
    }
  | { kind: 'gap'; fromSeq: number; toSeq: number; generation: number };

/** What `authenticated` did to the cursor. */
export type AnchorResult =
  /** Same user as the cursor: carry on from it (the node replays what came after). */
  | 'resumed'
  /** No cursor for this user (first connection, or another account): start from the node's latest seq. */
  | 'started'
  /** The node's latest seq is below the cursor (its data was reset): start again from it. */
  | 'rewound';

export interface SequencerOptions {
  /** The cursor kept from an earlier session (storage). */
  cursor?: Cursor;
  /** Ids of events without a seq (rooms, broadcast) remembered to drop repeats. @default 1_000 */
  recentIds?: number;
}

/** The default of `SequencerOptions.recentIds`. */
export const DEFAULT_RECENT_IDS = 1_000;

/** A delivery waiting for its turn; it gets its generation when released. */
type Pending =
  | Omit<Extract<Delivery, { kind: 'event' }>, 'generation'>
  | Omit<Extract<Delivery, { kind: 'gap' }>, 'generation'>;

/**
 * The ordering and dedupe core of the client, without sockets or timers: it takes
 * what arrives on the socket and releases it once, in seq order, through `take()`.
 *
 * - Events with a seq (user-targeted) are released in seq order. One that is ahead
 *   waits in `pending`; `hole()` says which seqs are missing, so the caller can wait a
 *   little, send `herald:sync`, and then `skipMissing()` to surface a gap and move on.
 *   Repeats (seq already released, or already pending) are dropped.
 * - Events without a seq are released at once, repeats dropped by id over the last
 *   `recentIds` ids.
 * - Seq'd events that arrive before the connection's `authenticated` wait in `pending`:
 *   only then is it known whose they are and where the cursor starts.
 *
 * Two cursors: `nextSeq` is the next seq to release, `lastSeq` the last one the app
 * finished handling (`handled()`), which is what gets stored, acked and replayed from.
 */
export class Sequencer {
  #userId: string | undefined;
  #lastSeq: number;
  /** Next seq to release; undefined = start at the first seq'd event seen (node sent no seq). */
  #nextSeq: number | undefined;
  /** True between this connection's `authenticated` and its disconnect. */
  #anchored = false;
  /** Bumped when the cursor starts over, so deliveries released before do not move the new one. */
  #generation = 0;
  readonly #pending = new Map<number, Pending>();
  /** Smallest key of `pending`, cached (undefined = recompute) since `hole()` runs after every event. */
  #pendingMin: number | undefined;
  #ready: Delivery[] = [];
  #readyHead = 0;
  readonly #recentIds: Set<string> = new Set();
  readonly #recentLimit: number;

  constructor(options: SequencerOptions = {}) {
    this.#userId = options.cursor?.userId;
    this.#lastSeq = options.cursor?.lastSeq ?? 0;
    this.#nextSeq = this.#lastSeq + 1;
    this.#recentLimit = options.recentIds ?? DEFAULT_RECENT_IDS;
    if (!Number.isInteger(this.#recentLimit) || this.#recentLimit < 1) {
      throw new RangeError(`recentIds must be an integer >= 1, got ${String(options.recentIds)}`);
    }
  }

  /** The user whose cursor this is, once known. */
  get userId(): string | undefined {
    return this.#userId;
  }

  /** The last seq the app finished handling (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The cursor to send in the handshake and to store. */
  cursor(): Cursor | undefined {
    return this.#userId === undefined ? undefined : { userId: this.#userId, lastSeq: this.#lastSeq };
  }

  /** Seq'd events waiting for an earlier seq (or for `authenticated`). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Deliveries released and not yet taken. */
  get readyCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  /**
   * The connection was lost. What was pending is dropped: the next handshake carries
   * `lastSeq`, so the node replays all of it, and pending events of a connection that
   * never authenticated may not even be this user's. Released deliveries stay.
   */
  disconnected(): void {
    this.#anchored = false;
    this.#pending.clear();
    this.#pendingMin = undefined;
  }

  /**
   * The connection's `authenticated`: anchors the cursor for `userId`. `latestSeq` is the
   * user's latest seq when the device connected (absent from nodes that do not send it).
   */
  authenticated(userId: string, latestSeq?: number): AnchorResult {
    let result: AnchorResult = 'resumed';
    if (this.#userId !== userId) {
      result = 'started';
    } else if (latestSeq !== undefined && latestSeq < this.#lastSeq) {
      result = 'rewound';
    }
    if (result !== 'resumed') {
      this.#generation++;
      this.#userId = userId;
      this.#lastSeq = latestSeq ?? 0;
      this.#nextSeq = latestSeq === undefined ? undefined : latestSeq + 1;
    }
    this.#anchored = true;
    if (this.#nextSeq === undefined && this.#pending.size > 0) this.#nextSeq = this.#minPending();
    // Events that arrived before `authenticated` and are at or below where the cursor starts.
    this.#dropBehind();
    this.#release();
    return result;
  }

  /** Whether the event was released, kept for later, or dropped as a repeat. */
  receive(event: string, payload: unknown, meta: DeliveryMeta): 'released' | 'pending' | 'duplicate' {
    if (meta.seq === undefined) {
      if (this.#recentIds.has(meta.id)) return 'duplicate';
      this.#remember(meta.id);
      this.#ready.push({ kind: 'event', event, payload, meta, generation: this.#generation });
      return 'released';
    }
    const seq = meta.seq;
    if (this.#anchored && this.#nextSeq !== undefined && seq < this.#nextSeq) return 'duplicate';
    if (this.#pending.has(seq)) return 'duplicate';
    this.#addPending(seq, { kind: 'event', event, payload, meta });
    if (!this.#anchored) return 'pending';
    this.#nextSeq ??= seq;
    this.#release();
    return this.#pending.has(seq) ? 'pending' : 'released';
  }

  /**
   * The node's `herald:gap`: seqs `fromSeq`..`toSeq` cannot be replayed. The gap is
   * released in its place in the stream (after what came before it) and the cursor moves
   * past it. What remains missing after the gap's end, if anything, is an ordinary hole.
   */
  serverGap(gap: GapPayload): void {
    if (!this.#anchored) return;
    this.#nextSeq ??= gap.fromSeq;
    const fromSeq = Math.max(gap.fromSeq, this.#nextSeq);
    // The node's inbox lacks these, but events of that range may have reached this device
    // live: the gap stops short of the first one, which is delivered as usual.
    let toSeq = gap.toSeq;
    for (const [seq, pending] of this.#pending) {
      if (pending.kind === 'event' && seq >= fromSeq && seq <= toSeq) toSeq = seq - 1;
    }
    if (toSeq < fromSeq) return;
    this.#addPending(fromSeq, { kind: 'gap', fromSeq, toSeq });
    this.#release();
  }

  /**
   * The seqs that hold back pending events (the next expected seq up to the first
   * pending one), or undefined when nothing waits for a missing seq.
   */
  hole(): GapPayload | undefined {
    if (!this.#anchored || this.#nextSeq === undefined || this.#pending.size === 0) return undefined;
    const first = this.#minPending();
    return first > this.#nextSeq ? { fromSeq: this.#nextSeq, toSeq: first - 1 } : undefined;
  }

  /**
   * Gives up on the missing seqs of the current hole up to `upToSeq` (the user's latest
   * seq as the node answered a sync, after replaying all it had): releases a gap for
   * them and moves on. Seqs above `upToSeq` may still be on their way and keep waiting.
   * Returns the gap, or undefined when there was nothing to give up.
   */
  skipMissing(upToSeq = Number.MAX_SAFE_INTEGER): GapPayload | undefined {
    const hole = this.hole();
    if (!hole || hole.fromSeq > upToSeq) return undefined;
    const gap = { fromSeq: hole.fromSeq, toSeq: Math.min(hole.toSeq, upToSeq) };
    this.#addPending(gap.fromSeq, { kind: 'gap', ...gap });
    this.#release();
    return gap;
  }

  /** The next delivery to hand to the app, in order. */
  take(): Delivery | undefined {
    if (this.#readyHead >= this.#ready.length) return undefined;
    const next = this.#ready[this.#readyHead];
    this.#ready[this.#readyHead++] = undefined as unknown as Delivery;
    if (this.#readyHead >= 1_024 && this.#readyHead * 2 >= this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    return next;
  }

  /**
   * The app finished handling `delivery` (handlers returned, or threw). Moves `lastSeq`
   * and returns true when it did: the caller stores and acks it.
   */
  handled(delivery: Delivery): boolean {
    if (delivery.generation !== this.#generation) return false;
    const seq = delivery.kind === 'gap' ? delivery.toSeq : delivery.meta.seq;
    if (seq === undefined || seq <= this.#lastSeq) return false;
    this.#lastSeq = seq;
    return true;
  }

  #addPending(seq: number, pending: Pending): void {
    this.#pending.set(seq, pending);
    if (this.#pendingMin !== undefined && seq < this.#pendingMin) this.#pendingMin = seq;
  }

  #deletePending(seq: number): void {
    this.#pending.delete(seq);
    if (seq === this.#pendingMin) this.#pendingMin = undefined;
  }

  /** Moves the contiguous run from `nextSeq` on from pending to ready. */
  #release(): void {
    if (this.#nextSeq === undefined) return;
    for (;;) {
      const next = this.#pending.get(this.#nextSeq);
      if (next === undefined) return;
      this.#deletePending(this.#nextSeq);
      this.#ready.push({ ...next, generation: this.#generation });
      if (next.kind === 'gap') {
        this.#nextSeq = next.toSeq + 1;
        // Anything pending inside the gap is behind the cursor now.
        this.#dropBehind();
      } else {
        this.#nextSeq++;
      }
    }
  }

  /** Drops pending entries below `nextSeq`. */
  #dropBehind(): void {
    const next = this.#nextSeq;
    if (next === undefined || this.#pending.size === 0 || this.#minPending() >= next) return;
    for (const seq of this.#pending.keys()) if (seq < next) this.#deletePending(seq);
  }

  #minPending(): number {
    if (this.#pendingMin === undefined) {
      let min = Number.POSITIVE_INFINITY;
      for (const seq of this.#pending.keys()) if (seq < min) min = seq;
      this.#pendingMin = min;
    }
    return this.#pendingMin;
  }

  #remember(id: string): void {
    this.#recentIds.add(id);
    if (this.#recentIds.size > this.#recentLimit) {
      // Sets iterate in insertion order: the first one is the oldest.
      const oldest = this.#recentIds.values().next().value;
      if (oldest !== undefined) this.#recentIds.delete(oldest);
    }
  }
}
