import { describe, expect, it } from 'vitest';
import { FallbackJobData } from '@herald/contracts';
import { batchJobId, fallbackJobId, toFallbackJob } from './fallback-jobs.js';

describe('fallbackJobId', () => {
  it('never contains a colon and is not an integer', () => {
    const id = fallbackJobId('evt:1', 0);
    expect(id).not.toContain(':');
    expect(Number.isInteger(Number(id))).toBe(false);
  });

  it('is the same for the same pair and different for pairs that would collide when joined naively', () => {
    expect(fallbackJobId('e-1', 0)).toBe(fallbackJobId('e-1', 0));
    expect(fallbackJobId('e-1', 0)).not.toBe(fallbackJobId('e-1', 1));
    expect(fallbackJobId('a:b', 0)).not.toBe(fallbackJobId('a%3Ab', 0));
    expect(fallbackJobId('a|1', 2)).not.toBe(fallbackJobId('a', 12));
  });
});

describe('toFallbackJob', () => {
  it('makes one delayed, retried job for all offline users of the slice, carrying the event as published', () => {
    const event = {
      eventId: 'e1',
      event: 'notification:new',
      payload: { notification: { title: 'Hi' } },
      target: { kind: 'users' as const, userIds: ['a', 'b', 'c'] },
      fallback: { channel: 'email' as const },
      publishedAt: 123,
      part: { index: 3, count: 4 },
    };
    const users = [
      { userId: 'b', seq: 4 },
      { userId: 'c', seq: 9 },
    ];
    const settings = { delayMs: 500, attempts: 3, backoffMs: 10 };
    const job = toFallbackJob([{ item: event, fallback: event.fallback, users }], settings);
    expect(job.data).toEqual({
      checks: [
        {
          eventId: 'e1',
          userIds: ['b', 'c'],
          seqs: [4, 9],
          event: 'notification:new',
          payload: event.payload,
          fallback: { channel: 'email' },
          publishedAt: 123,
        },
      ],
    });
    expect(FallbackJobData.safeParse(job.data).success).toBe(true);
    expect(job.opts).toMatchObject({
      jobId: fallbackJobId('e1', 3),
      delay: 500,
      attempts: 3,
      backoff: { type: 'exponential', delay: 10 },
    });
  });

  it('puts the checks of several events in one job, with an id that only the same pairs share', () => {
    const item = (eventId: string, index: number) => ({
      eventId,
      event: 'notification:new',
      payload: { notification: { title: eventId } },
      target: { kind: 'users' as const, userIds: ['a'] },
      fallback: { channel: 'email' as const },
      publishedAt: 1,
      part: { index, count: index + 1 },
    });
    const users = [{ userId: 'a', seq: 1, plain: { 'n|s|p': 99 } }];
    const checks = [
      { item: item('e1', 0), fallback: { channel: 'email' as const }, users },
      { item: item('e2', 1), fallback: { channel: 'email' as const }, users: [{ userId: 'a', seq: 2 }] },
    ];
    const job = toFallbackJob(checks, { delayMs: 1, attempts: 1, backoffMs: 1 });
    expect(job.opts.jobId).toBe(batchJobId(checks));
    expect(job.opts.jobId).toMatch(/^fbg-/);
    expect(batchJobId(checks)).toBe(batchJobId([...checks]));
    expect(batchJobId(checks)).not.toBe(batchJobId([...checks].reverse()));
    expect(batchJobId(checks)).not.toBe(batchJobId(checks.slice(0, 1)));
    expect(job.data).toMatchObject({
      checks: [
        { eventId: 'e1', userIds: ['a'], seqs: [1], plainAtEmit: { a: { 'n|s|p': 99 } } },
        { eventId: 'e2', userIds: ['a'], seqs: [2] },
      ],
    });
    expect(FallbackJobData.safeParse(job.data).success).toBe(true);
  });
});
