import type { CheckedItem } from './fallback-jobs.js';

export interface CheckBatcherOptions {
  /** How long checks wait for others once one is pending; 0 = none: each stream entry's checks go alone. */
  lingerMs: number;
  /** Stream entries waiting at which the batch goes at once (each waits to be acknowledged meanwhile). */
  maxWaiters: number;
  /** Users at which the batch goes at once, so one fallback job stays a bounded amount of work. */
  maxUsers: number;
  /**
   * Checks one fallback job may hold (the fallback job schema's bound); the checks of one
   * stream entry never exceed it, and are never split over two fallback jobs.
   */
  maxChecks: number;
  /** Adds one fallback job carrying `checked`. */
  addJob(checked: readonly CheckedItem[]): Promise<unknown>;
}

export interface CheckBatcher {
  /** Queues the ack checks of one stream entry; resolves once a fallback job holding them is in Redis. */
  add(checked: readonly CheckedItem[]): Promise<void>;
  /** Sends what is pending and waits for every add in flight. */
  drain(): Promise<void>;
}

interface Pending {
  checked: CheckedItem[];
  users: number;
  waiters: Array<{ resolve(): void; reject(error: unknown): void }>;
}

/**
 * Group commit of the ack checks of the stream entries a dispatcher delivers at about the
 * same time: one delayed fallback job per batch instead of one per entry. A delayed BullMQ
 * job costs Redis several times what delivering an entry does; the check is due only after
 * the ack timeout (30 s), so waiting a few milliseconds for company costs nothing. An entry
 * is acknowledged only once its checks are in Redis (its `add` resolves), so a dispatcher
 * that dies in between loses nothing: the entry is claimed, delivered again and queues them
 * again.
 *
 * The id of a batch of one (event, part) is that pair's `fallbackJobId`, so an entry
 * delivered again whose check goes out alone adds nothing twice while the first job is kept.
 * A batch of several has an id derived from all its pairs, so an add can only be ignored as
 * a duplicate of a job with exactly the same checks; an entry delivered again whose checks
 * land in another batch checks those users twice, and the fallback-sent marks keep that to
 * one email.
 */
export function createCheckBatcher(options: CheckBatcherOptions): CheckBatcher {
  let pending: Pending | undefined;
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = undefined;
    if (!batch) return;
    // Through a promise, so an add that throws at once still settles every waiter of the batch.
    const sent = Promise.resolve()
      .then(() => options.addJob(batch.checked))
      .then(
        () => {
          for (const waiter of batch.waiters) waiter.resolve();
        },
        (error: unknown) => {
          for (const waiter of batch.waiters) waiter.reject(error);
        },
      );
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };

  return {
    add(checked) {
      if (checked.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        if (pending && pending.checked.length + checked.length > options.maxChecks) flush();
        pending ??= { checked: [], users: 0, waiters: [] };
        pending.checked.push(...checked);
        for (const item of checked) pending.users += item.users.length;
        pending.waiters.push({ resolve, reject });
        if (
          options.lingerMs === 0 ||
          pending.waiters.length >= options.maxWaiters ||
          pending.users >= options.maxUsers ||
          pending.checked.length >= options.maxChecks
        ) {
          flush();
        } else timer ??= setTimeout(flush, options.lingerMs);
      });
    },
    async drain() {
      flush();
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
