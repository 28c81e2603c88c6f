/**
 * The lock settings of Herald's BullMQ workers. A job of a worker that died (SIGKILL) is
 * taken up again between `lockMs` and 1.5× `lockMs` later: its lock expires, and stalled
 * jobs are looked for every half lock. BullMQ's defaults (30 s, checked every 30 s) let
 * such jobs wait up to a minute and a half. A job may stall up to 10 times: running one
 * again is safe for both queues (the same seqs again, which devices drop; emails only
 * to users not yet settled), and BullMQ's default of 1 fails for good a job caught by
 * two deaths, so its events or emails would never go out.
 */
export function jobLockOptions(lockMs: number): {
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
} {
  return { lockDuration: lockMs, stalledInterval: Math.floor(lockMs / 2), maxStalledCount: 10 };
}
