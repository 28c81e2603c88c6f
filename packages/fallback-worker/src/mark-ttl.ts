import type { BackoffOptions } from 'bullmq';
import { DEFAULT_MAX_DELIVERIES, jobLockOptions } from '@herald/core';

/**
 * What the lifetime of a `fallback-sent` mark is derived from: the settings of every process
 * that can make a check of the same (event, user) run again.
 */
export interface MarkTtlSettings {
  /** Attempts of the fallback job: its job options, the dispatcher's `fallbackAttempts`. */
  attempts: number;
  /**
   * Backoff between those attempts: its job options, exponential from the dispatcher's
   * `fallbackBackoffMs`. A number is a fixed delay, as in BullMQ; none, no wait.
   */
  backoff?: number | BackoffOptions;
  /** How long a stream entry stays unacknowledged before another dispatcher claims it: `HERALD_DISPATCHER_LOCK_MS`. */
  dispatcherLockMs: number;
  /** Lock of a fallback job: the fallback worker's `HERALD_FALLBACK_LOCK_MS`. */
  fallbackLockMs: number;
  /** Presence entry lifetime: the socket nodes' `HERALD_PRESENCE_TTL_MS`. */
  presenceTtlMs: number;
}

/**
 * Time allowed for what no setting bounds: the runs of the job themselves (a job may hold
 * thousands of users, sent 8 at a time), a fallback queue that is behind, clocks that
 * differ between processes. Too short costs at
 * worst a second email for a pair checked again that late; each minute more keeps a
 * minute more of marks.
 */
export const MARK_RUN_ALLOWANCE_MS = 5 * 60_000;

/** Past a plain device's presence expiry before a waiting check looks again, for clock steps between processes. */
export const RECHECK_MARGIN_MS = 250;

/**
 * How long a `fallback-sent` mark must outlive its write (ms): the longest a check of the
 * same (event, user) can still run after the first one. Such checks are the fallback job's
 * own later runs and a second fallback job for the pair, added when its stream entry is
 * delivered again after a dispatcher died before acknowledging it (a lone check's job id
 * stops that add only while the first job is kept). Summed, each at its worst:
 *
 * - `(D − 1) × 1.5 × dispatcherLockMs`: the entry claimed and delivered again after each
 *   dispatcher death (pending a lock, plus half a lock until the next claim pass; after
 *   `D` = `DEFAULT_MAX_DELIVERIES` = 5 deliveries it is dead-lettered), adding the check again;
 * - the fallback job's retries: `backoff × (2^(attempts − 1) − 1)` for BullMQ's exponential
 *   backoff (`backoff × (attempts − 1)` fixed);
 * - `S × 1.5 × fallbackLockMs`: the fallback job taken up again after each worker death;
 * - `presenceTtlMs + 250 ms`: the one wait of a check for a plain device's presence entry;
 * - `MARK_RUN_ALLOWANCE_MS` for the rest.
 *
 * With the defaults (8 attempts from 1 s, 10 s locks, 20 s presence) it is 657.25 s. A check
 * later than that (a failed job retried by hand, say) finds no mark and may email again.
 *
 * @example
 * redis.set(keys.fallbackSent(eventId, userId), value, 'PX', fallbackMarkTtlMs(settings));
 */
export function fallbackMarkTtlMs(settings: MarkTtlSettings): number {
  const ttl =
    redeliveriesMs(settings.dispatcherLockMs) +
    retriesMs(settings.attempts, settings.backoff) +
    takeUpsMs(settings.fallbackLockMs) +
    settings.presenceTtlMs +
    RECHECK_MARGIN_MS +
    MARK_RUN_ALLOWANCE_MS;
  // 2^99 backoffs would overflow what Redis takes as an expiry; such a schedule never ends anyway.
  return Math.min(ttl, Number.MAX_SAFE_INTEGER);
}

/**
 * The latest a stream entry is delivered again after the dispatcher deaths it survives:
 * each time it stays pending `lockMs`, then the next claim pass (every half lock) takes it;
 * after `DEFAULT_MAX_DELIVERIES` deliveries it goes to the dead stream instead.
 */
function redeliveriesMs(lockMs: number): number {
  return (DEFAULT_MAX_DELIVERIES - 1) * 1.5 * lockMs;
}

/**
 * The latest a job of a worker with lock `lockMs` is run again after the deaths it survives:
 * each time its lock expires, then a stalled check (every `stalledInterval`) moves it back.
 */
function takeUpsMs(lockMs: number): number {
  const { lockDuration, stalledInterval, maxStalledCount } = jobLockOptions(lockMs);
  return maxStalledCount * (lockDuration + stalledInterval);
}

/**
 * The sum of BullMQ's waits between `attempts` attempts: `delay` each for a fixed backoff,
 * `2^(n − 1) × delay` after the n-th for an exponential one. A type of its own, which our
 * worker gives no strategy for, is counted as exponential, the longer of the two. No jitter
 * is assumed: jitter only shortens a wait.
 */
function retriesMs(attempts: number, backoff: number | BackoffOptions | undefined): number {
  const options = typeof backoff === 'number' ? { type: 'fixed', delay: backoff } : backoff;
  const delay = options?.delay ?? 0;
  let sum = 0;
  for (let made = 1; made < attempts; made += 1) {
    sum += options?.type === 'fixed' ? delay : Math.round(2 ** (made - 1) * delay);
  }
  return sum;
}
