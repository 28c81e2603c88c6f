import { describe, expect, it } from 'vitest';
import { fallbackJobId } from '@herald/dispatcher';
import { sleep, uniqueUser, waitFor } from '@herald/testing';
import type { FallbackOutcome } from '../src/index.js';
import { notification, startFallbackStack, useCleanup } from './support.js';

/**
 * Settings away from every default, so the mark's lifetime can only come out right if the
 * worker takes each from where it is set: attempts and backoff from the job the dispatcher
 * added, the locks and the presence TTL from its options.
 */
const SETTINGS = {
  fallbackAttempts: 5,
  fallbackBackoffMs: 300,
  dispatcherLockMs: 2_000,
  fallbackLockMs: 4_000,
  presenceTtlMs: 5_000,
};

/**
 * The lifetime DESIGN.md gives, worked out by hand for SETTINGS:
 * 4 × 1.5 × 2 s (redeliveries of a stream entry) + 300 ms × (2^4 − 1) (retries) + 10 × 1.5 × 4 s
 * (worker deaths) + 5 s + 250 ms (presence wait) + 5 min (runs and queue waits).
 */
const MARK_TTL_MS = 12_000 + 4_500 + 60_000 + 5_250 + 300_000;

describe('fallback-sent marks', () => {
  const defer = useCleanup();

  it('are kept as long as a check of the same event and user can run, and a check added again after the job is gone sends nothing', async () => {
    const stack = await startFallbackStack(defer, {
      presenceTtlMs: SETTINGS.presenceTtlMs,
      dispatcher: {
        fallbackAttempts: SETTINGS.fallbackAttempts,
        fallbackBackoffMs: SETTINGS.fallbackBackoffMs,
        lockMs: SETTINGS.dispatcherLockMs,
      },
      worker: {
        lockMs: SETTINGS.fallbackLockMs,
        dispatcherLockMs: SETTINGS.dispatcherLockMs,
        presenceTtlMs: SETTINGS.presenceTtlMs,
      },
    });
    const user = uniqueUser('mark');
    const to = `${user}@example.com`;
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', notification('Your order shipped'), { fallback: { email: to } });

    await waitFor(() => stack.mailsTo(to).length === 1, { message: 'the fallback email arrived' });
    const mark = stack.keys.fallbackSent(id, user);
    const pttl = await waitFor(async () => {
      const left = await stack.redis.pttl(mark);
      return left > 0 ? left : null;
    });
    // The mark is written as the SMTP server accepts the email, a few ms before this read.
    expect(pttl).toBeLessThanOrEqual(MARK_TTL_MS);
    expect(pttl).toBeGreaterThan(MARK_TTL_MS - 3_000);

    // The completed job is removed, as the retention does once 1,000 newer ones completed,
    // and the same check is added again, as by a stream entry delivered again after its dispatcher
    // died: the mark settles the user, and no second email goes out.
    const jobId = fallbackJobId(id, 0);
    const first = await waitFor(async () => {
      const job = await stack.fallbackQueue.getJob(jobId);
      return job && (await job.getState()) === 'completed' ? job : null;
    });
    await first.remove();
    await stack.fallbackQueue.add(first.name, first.data, {
      jobId,
      attempts: SETTINGS.fallbackAttempts,
      backoff: { type: 'exponential', delay: SETTINGS.fallbackBackoffMs },
    });
    const again = await waitFor(async () => {
      const job = await stack.fallbackQueue.getJob(jobId);
      return job && (await job.getState()) === 'completed' ? job : null;
    });
    expect((again.returnvalue as FallbackOutcome).alreadySent).toBe(1);
    await sleep(500);
    expect(stack.mailsTo(to)).toHaveLength(1);
  });
});
