/** setTimeout's limit is about 24.8 days; farther deadlines are reached in hops of at most this. */
const MAX_DELAY_MS = 3_600_000;

/**
 * Items due at whole seconds (epoch seconds, as JWT `exp`), fired by one timer
 * for the whole wheel instead of one per item: a node with 100k idle sockets
 * keeps one timer, one Set per distinct second, and one Set slot per socket.
 * Each second's items are handed to `onDue` together, at the start of that
 * second (never earlier); a second already past is due at once.
 *
 * Not a general scheduler: items are compared by identity, and `delete` needs the
 * second an item was added with (callers keep it anyway).
 */
export class DeadlineWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Min-heap of seconds that had a bucket when pushed; emptied buckets leave stale entries, skipped later. */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private count = 0;
  private closed = false;

  constructor(
    private readonly onDue: (items: Set<T>, second: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Items waiting. */
  get size(): number {
    return this.count;
  }

  add(second: number, item: T): void {
    if (this.closed) return;
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(second, bucket);
      this.push(second);
    }
    if (bucket.has(item)) return;
    bucket.add(item);
    this.count += 1;
    if (second * 1000 < this.armedAt) this.arm();
  }

  delete(second: number, item: T): void {
    const bucket = this.buckets.get(second);
    if (!bucket?.delete(item)) return;
    this.count -= 1;
    if (bucket.size === 0) this.buckets.delete(second);
  }

  /** Drops every item and the timer; later `add`s are ignored. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buckets.clear();
    this.heap.length = 0;
    this.count = 0;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const nowMs = this.now();
    try {
      while (this.heap.length > 0 && this.heap[0]! * 1000 <= nowMs) {
        const second = this.pop();
        const bucket = this.buckets.get(second);
        if (!bucket) continue;
        // Out of the wheel before onDue runs, so it may add or delete freely.
        this.buckets.delete(second);
        this.count -= bucket.size;
        this.onDue(bucket, second);
      }
    } finally {
      // Even if onDue threw, later seconds must still fire.
      this.arm();
    }
  };

  /** Points the one timer at the earliest second that still has items. */
  private arm(): void {
    while (this.heap.length > 0 && !this.buckets.has(this.heap[0]!)) this.pop();
    const next = this.heap[0];
    if (next === undefined || this.closed) return;
    const at = next * 1000;
    if (this.timer && at >= this.armedAt) return;
    clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.fire, Math.min(Math.max(0, at - this.now()), MAX_DELAY_MS));
    // The node's server keeps the process alive; a wheel on its own must not.
    this.timer.unref();
  }

  private push(second: number): void {
    const heap = this.heap;
    heap.push(second);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]! < heap[smallest]!) smallest = left;
        if (right < heap.length && heap[right]! < heap[smallest]!) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}
