import { describe, expect, it } from 'vitest';
import { fallbackJobId, toFallbackJobs } from './fallback-jobs.js';

describe('fallbackJobId', () => {
  it('never contains a colon and is not an integer', () => {
    const id = fallbackJobId('evt:1', 'tenant:42');
    expect(id).not.toContain(':');
    expect(Number.isInteger(Number(id))).toBe(false);
  });

  it('is the same for the same pair and different for pairs that would collide when joined naively', () => {
    expect(fallbackJobId('e-1', 'u')).toBe(fallbackJobId('e-1', 'u'));
    expect(fallbackJobId('a-b', 'c')).not.toBe(fallbackJobId('a', 'b-c'));
    expect(fallbackJobId('a:b', 'c')).not.toBe(fallbackJobId('a%3Ab', 'c'));
    expect(fallbackJobId('a', 'b|c')).not.toBe(fallbackJobId('a|b', 'c'));
  });
});

describe('toFallbackJobs', () => {
  it('makes one delayed, retried job per offline user carrying the event as published', () => {
    const event = {
      v: 1 as const,
      eventId: 'e1',
      event: 'notification:new',
      payload: { notification: { title: 'Hi' } },
      target: { kind: 'users' as const, userIds: ['a', 'b'] },
      fallback: { channel: 'email' as const },
      publishedAt: 123,
      part: { index: 0, count: 1 },
    };
    const jobs = toFallbackJobs(event, event.fallback, ['b'], { graceMs: 500, attempts: 3, backoffMs: 10 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.data).toEqual({
      v: 1,
      eventId: 'e1',
      userId: 'b',
      event: 'notification:new',
      payload: event.payload,
      fallback: { channel: 'email' },
      publishedAt: 123,
    });
    expect(jobs[0]?.opts).toMatchObject({
      jobId: fallbackJobId('e1', 'b'),
      delay: 500,
      attempts: 3,
      backoff: { type: 'exponential', delay: 10 },
    });
  });
});
