import { packEventJobs, type EventJob, type JobLimits, type SizedItem } from './event-jobs.js';
import { createRateMeter } from './rate-meter.js';

export interface EventBatcherOptions extends JobLimits {
  /** How long a batch waits for more events once it has one; 0 = until the end of the current tick. */
  lingerMs: number;
  /**
   * Under load: while events arrive at `busy.rate` per second or more (over the last
   * 100 ms), a batch waits `busy.lingerMs` instead of `lingerMs`. Absent: never.
   */
  busy?: { rate: number; lingerMs: number };
  /**
   * Adds the jobs of one flush in one round trip, each job all or nothing. Resolves to
   * one outcome per job, in order: `undefined` when it is in Redis, else its error.
   */
  addBulk(jobs: EventJob[]): Promise<readonly unknown[]>;
}

export interface EventBatcher {
  /** Queues the items of one event; resolves once the jobs carrying them are in Redis, rejects if adding failed. */
  add(items: SizedItem[]): Promise<void>;
  /** Sends whatever is pending and waits for every add in flight to settle. */
  drain(): Promise<void>;
}

interface Waiter {
  /** How many items of the batch (consecutive, after the previous waiter's) are this event's. */
  items: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Settles each waiter by the jobs that carry its items: it resolves when all of them are
 * in Redis, and rejects with the first error among them. Jobs hold the batch's items in
 * order, so a waiter's items are a run of consecutive ones.
 */
function settleWaiters(waiters: readonly Waiter[], jobs: readonly EventJob[], outcomes: readonly unknown[]) {
  const jobOfItem: number[] = [];
  jobs.forEach((job, j) => {
    for (let i = 0; i < job.data.events.length; i++) jobOfItem.push(j);
  });
  let next = 0;
  for (const waiter of waiters) {
    let failure: unknown;
    for (let i = next; i < next + waiter.items; i++) {
      const outcome = outcomes[jobOfItem[i] as number];
      if (outcome !== undefined) {
        failure = outcome;
        break;
      }
    }
    next += waiter.items;
    if (failure === undefined) waiter.resolve();
    else waiter.reject(failure);
  }
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
 *
 * Under load (`busy`), batches wait longer, to fill: every events job costs BullMQ and
 * the dispatcher a fixed amount (its add, fetch and complete scripts, its lock, its
 * parse) that is worth tens of events, and at high rates the round trip alone leaves
 * jobs of a few dozen events. There, a few more milliseconds of latency buy fewer,
 * fuller jobs, while a steady trickle below the rate keeps the short linger.
 */
export function createEventBatcher(options: EventBatcherOptions): EventBatcher {
  let items: SizedItem[] = [];
  let waiters: Waiter[] = [];
  let bytes = 0;
  /** Cancels the pending flush (a timer, or an immediate when the linger is 0); undefined when none is pending. */
  let cancelScheduled: (() => void) | undefined;
  // The arrival rate is measured only when there is a busy mode to switch to.
  const busy = options.busy && { ...options.busy, arrivals: createRateMeter(100) };
  const lingerNow = () => (busy && busy.arrivals.perSecond() >= busy.rate ? busy.lingerMs : options.lingerMs);
  const inFlight = new Set<Promise<void>>();

  const unschedule = () => {
    cancelScheduled?.();
    cancelScheduled = undefined;
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
        const jobs = packEventJobs(batch, options);
        settleWaiters(settle, jobs, await options.addBulk(jobs));
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
        busy?.arrivals.add(added.length);
        waiters.push({ items: added.length, resolve, reject });
        if (items.length >= options.maxEvents || bytes >= options.maxBytes) flush(true);
        else if (cancelScheduled === undefined && !due) {
          const later = () => flush(false);
          const linger = lingerNow();
          if (linger === 0) {
            const immediate = setImmediate(later);
            cancelScheduled = () => clearImmediate(immediate);
          } else {
            const timer = setTimeout(later, linger);
            cancelScheduled = () => clearTimeout(timer);
          }
        }
      });
    },
    async drain() {
      flush(true);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
