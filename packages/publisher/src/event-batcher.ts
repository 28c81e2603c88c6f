import { packEventJobs, type EventJob, type JobLimits, type SizedItem } from './event-jobs.js';

export interface EventBatcherOptions extends JobLimits {
  /** How long a batch waits for more events once it has one; 0 = until the end of the current tick. */
  lingerMs: number;
  /** Adds the jobs of one flush in one round trip (BullMQ `addBulk`: one MULTI, all or nothing). */
  addBulk(jobs: EventJob[]): Promise<unknown>;
}

export interface EventBatcher {
  /** Queues the items of one event; resolves once the jobs carrying them are in Redis, rejects if adding failed. */
  add(items: SizedItem[]): Promise<void>;
  /** Sends whatever is pending and waits for every add in flight to settle. */
  drain(): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Coalesces the events published concurrently into few jobs: one round trip to
 * Redis (and one job for the dispatcher to fetch, lock and complete) per batch
 * instead of per event, which is what BullMQ costs most of (its add and complete
 * scripts cost Redis far more than the PUBLISH does).
 *
 * Group commit: a batch is sent at the end of the tick it started in (`lingerMs` 0,
 * `setImmediate`) when no send is in flight, so a lone event waits for no timer and
 * latency at low load is unchanged. While a send is in flight, new events gather and
 * go out together as soon as it returns, so under load batches grow to fit the round
 * trip by themselves. A batch that reaches `maxEvents` items or `maxBytes` payload
 * bytes is sent at once regardless. Sends go out in call order on one connection, so
 * events one caller publishes one after another stay in order.
 */
export function createEventBatcher(options: EventBatcherOptions): EventBatcher {
  let items: SizedItem[] = [];
  let waiters: Waiter[] = [];
  let bytes = 0;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  const unschedule = () => {
    if (scheduled === undefined) return;
    if (options.lingerMs === 0) clearImmediate(scheduled as NodeJS.Immediate);
    else clearTimeout(scheduled as NodeJS.Timeout);
    scheduled = undefined;
  };

  let sending = 0;
  let due = false;

  /** Sends the pending batch now (`force`), or when no send is in flight. */
  const flush = (force: boolean) => {
    unschedule();
    if (waiters.length === 0) return;
    if (!force && sending > 0) {
      due = true;
      return;
    }
    due = false;
    const batch = items;
    const settle = waiters;
    items = [];
    waiters = [];
    bytes = 0;
    sending += 1;
    const sent = (async () => {
      try {
        await options.addBulk(packEventJobs(batch, options));
        for (const waiter of settle) waiter.resolve();
      } catch (error) {
        for (const waiter of settle) waiter.reject(error);
      } finally {
        sending -= 1;
        // What gathered while this send was in flight goes now.
        if (due) flush(false);
      }
    })();
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };

  return {
    add(added) {
      return new Promise<void>((resolve, reject) => {
        items.push(...added);
        for (const item of added) bytes += item.bytes;
        waiters.push({ resolve, reject });
        if (items.length >= options.maxEvents || bytes >= options.maxBytes) flush(true);
        else if (scheduled === undefined && !due) {
          const later = () => flush(false);
          scheduled = options.lingerMs === 0 ? setImmediate(later) : setTimeout(later, options.lingerMs);
        }
      });
    },
    async drain() {
      flush(true);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
