import { packEventEntries, type EntryLimits, type EventEntry, type SizedItem } from './event-entries.js';
import { createRateMeter } from './rate-meter.js';

/** What became of one stream entry of a send. */
export type EntryOutcome =
  /**
   * The entry is in its stream. `refused` holds, by the item's index in the entry, the
   * error of each item refused on its own (an `eventId` reused for another event): its
   * publish fails and it was left out, while the entry's other items are delivered.
   */
  | { appended: true; refused?: ReadonlyMap<number, unknown> }
  /** The entry is not in Redis, for this reason. */
  | { appended: false; error: unknown };

export interface EventBatcherOptions extends EntryLimits {
  /** How long a batch waits for more events once it has one; 0 = until the end of the current tick. */
  lingerMs: number;
  /**
   * Under load: while events arrive at `busy.rate` per second or more (over the last
   * 100 ms), a batch waits `busy.lingerMs` instead of `lingerMs`. Absent: never.
   */
  busy?: { rate: number; lingerMs: number };
  /**
   * Asked before each send whether it may go now: `undefined` yes; an error, no, and the
   * pending publishes are refused with it (they were not sent); a promise, not yet: the
   * batch stays pending, its publishes can still be withdrawn, and it is tried again once
   * the promise settles. Absent: always yes.
   */
  gate?(): undefined | Error | Promise<unknown>;
  /**
   * Appends the entries of one flush, each entry all or nothing. Resolves to one outcome
   * per entry, in order.
   */
  append(entries: EventEntry[]): Promise<readonly EntryOutcome[]>;
}

/** One event handed to the batcher. */
export interface PendingAdd {
  /**
   * Resolves once the entries carrying the event's items are in Redis; rejects if appending
   * failed, if Redis refused one of its items, or with the reason given to `withdraw`.
   */
  done: Promise<void>;
  /**
   * Takes the event's items out of the pending batch if they have not been sent yet and
   * rejects `done` with `reason`: true. False once they were sent: Redis may run them.
   */
  withdraw(reason: unknown): boolean;
}

export interface EventBatcher {
  /** Queues the items of one event. */
  add(items: SizedItem[]): PendingAdd;
  /** Sends whatever is pending and waits for every add in flight to settle. */
  drain(): Promise<void>;
}

interface Waiter {
  /** This event's items; a batch holds its waiters' items in order. */
  items: SizedItem[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Settles each waiter by the entries that carry its items: it resolves when all of them
 * are in Redis, and rejects with the first error among them. The batch's items are the
 * waiters' items in order (a waiter's items are a run of consecutive ones); entries say
 * where each of theirs came from.
 */
function settleWaiters(
  waiters: readonly Waiter[],
  entries: readonly EventEntry[],
  outcomes: readonly EntryOutcome[],
) {
  const errorOfItem: unknown[] = [];
  entries.forEach((entry, e) => {
    const outcome = outcomes[e];
    entry.sources.forEach((source, i) => {
      errorOfItem[source] =
        outcome === undefined
          ? new Error('append returned no outcome for an entry')
          : outcome.appended
            ? outcome.refused?.get(i)
            : outcome.error;
    });
  });
  let next = 0;
  for (const waiter of waiters) {
    const failure = errorOfItem.slice(next, next + waiter.items.length).find((e) => e !== undefined);
    next += waiter.items.length;
    if (failure === undefined) waiter.resolve();
    else waiter.reject(failure);
  }
}

/**
 * Coalesces the events published concurrently into few stream entries: one script call
 * per batch and partition instead of per event (and one entry for a dispatcher to read,
 * parse and acknowledge), which amortises each call's fixed cost over many events.
 *
 * Group commit: a batch is sent at the end of the tick it started in (`lingerMs` 0,
 * `setImmediate`) when no send is in flight, so a lone event waits for no timer and
 * latency at low load is unchanged. While a send is in flight, new events gather and
 * go out together as soon as it returns, so under load batches grow to fit the round
 * trip by themselves. A batch that reaches `maxEvents` items or `maxBytes` payload
 * bytes is sent at once regardless. Sends go out in call order on one connection, so
 * events one caller publishes one after another stay in order (a batch holding
 * producer-supplied ids goes out after its claims' round trip: see `appendEntries`).
 *
 * Under load (`busy`), batches wait longer, to fill: every entry costs Redis and the
 * dispatcher a fixed amount (the script call, the read, the parse, the acknowledgement),
 * and at high rates the round trip alone leaves entries of a few events. There, a few
 * more milliseconds of latency buy fewer, fuller entries, while a steady trickle below
 * the rate keeps the short linger.
 *
 * During an outage nothing waits behind a send Redis does not answer: an event still
 * pending (gathered behind that send, or held by the gate) can be withdrawn at its
 * caller's deadline and is then never sent, so a refusal that says "not published" stays
 * true. Only a send already written to the connection may run after its caller gave up.
 */
export function createEventBatcher(options: EventBatcherOptions): EventBatcher {
  let waiters: Waiter[] = [];
  let count = 0;
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
  /** Set while the gate holds the batch back: one wait at a time. */
  let gated = false;
  /** `drain` calls waiting for a gated batch to be sent or withdrawn. */
  const drainers = new Set<() => void>();
  const wakeDrainers = () => {
    for (const wake of drainers) wake();
    drainers.clear();
  };

  /** Takes the pending batch out, to send it or to refuse it. */
  const take = () => {
    const taken = waiters;
    waiters = [];
    count = 0;
    bytes = 0;
    return taken;
  };

  /** Sends the pending batch now (`force`), or when no send is in flight. */
  const flush = (force: boolean) => {
    unschedule();
    if (waiters.length === 0 || gated) return;
    if (!force && sending > 0) {
      due = true;
      return;
    }
    const gate = options.gate?.();
    if (gate instanceof Promise) {
      // Not sent yet, so each publish can still be withdrawn at its deadline.
      gated = true;
      void gate
        .catch(() => undefined)
        .finally(() => {
          gated = false;
          flush(false);
          wakeDrainers();
        });
      return;
    }
    if (gate !== undefined) {
      for (const waiter of take()) waiter.reject(gate);
      return;
    }
    due = false;
    const settle = take();
    sending += 1;
    const sent = (async () => {
      try {
        const entries = packEventEntries(
          settle.flatMap((waiter) => waiter.items),
          options,
        );
        settleWaiters(settle, entries, await options.append(entries));
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

  const schedule = () => {
    if (cancelScheduled !== undefined || due) return;
    const later = () => flush(false);
    const linger = lingerNow();
    if (linger === 0) {
      const immediate = setImmediate(later);
      cancelScheduled = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(later, linger);
      cancelScheduled = () => clearTimeout(timer);
    }
  };

  return {
    add(added) {
      let waiter: Waiter | undefined;
      const done = new Promise<void>((resolve, reject) => {
        waiter = { items: added, resolve, reject };
      });
      const self = waiter as Waiter;
      waiters.push(self);
      count += added.length;
      for (const item of added) bytes += item.bytes;
      busy?.arrivals.add(added.length);
      if (count >= options.maxEvents || bytes >= options.maxBytes) flush(true);
      else schedule();
      return {
        done,
        withdraw(reason) {
          const at = waiters.indexOf(self);
          if (at < 0) return false;
          waiters.splice(at, 1);
          count -= added.length;
          for (const item of added) bytes -= item.bytes;
          if (waiters.length === 0) {
            unschedule();
            due = false;
            wakeDrainers();
          }
          self.reject(reason);
          return true;
        },
      };
    },
    async drain() {
      flush(true);
      for (;;) {
        if (inFlight.size > 0) await Promise.all([...inFlight]);
        // A gated batch is sent when the gate opens, or withdrawn at its publishes' deadlines.
        else if (gated && waiters.length > 0) await new Promise<void>((wake) => drainers.add(wake));
        else return;
      }
    },
  };
}
