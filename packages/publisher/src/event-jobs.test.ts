import { describe, expect, it } from 'vitest';
import { EventJobData, USERS_PER_JOB, defaultCatalog, prepareEvent } from '@herald/contracts';
import { DEDUPLICATION_TTL_MS, toEventJobs } from './event-jobs.js';

const notification = { notification: { title: 'Hello' } };

describe('toEventJobs', () => {
  it('splits a large user target into USERS_PER_JOB slices, in order, each deduplicated per part', () => {
    const userIds = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const event = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { users: userIds },
      payload: notification,
    });
    const jobs = toEventJobs(event);

    expect(jobs).toHaveLength(10_000 / USERS_PER_JOB);
    const carried = jobs.flatMap((job) => (job.data.target.kind === 'users' ? job.data.target.userIds : []));
    expect(carried).toEqual(userIds);
    jobs.forEach((job, index) => {
      expect(EventJobData.parse(job.data)).toEqual(job.data);
      expect(job.name).toBe('notification:new');
      expect(job.data.part).toEqual({ index, count: 20 });
      expect(job.opts.deduplication).toEqual({ id: `${event.eventId}.p${index}`, ttl: DEDUPLICATION_TTL_MS });
    });
  });

  it('keeps room and broadcast targets in one job with the retry and retention options', () => {
    const event = prepareEvent(defaultCatalog, {
      event: 'leaderboard:updated',
      to: { broadcast: true },
      payload: { leaderboard: [] },
      options: { eventId: 'lb-1' },
    });
    const [job, ...rest] = toEventJobs(event);
    expect(rest).toEqual([]);
    expect(job?.data).toMatchObject({
      v: 1,
      eventId: 'lb-1',
      target: { kind: 'broadcast' },
      part: { index: 0, count: 1 },
    });
    expect(job?.opts).toMatchObject({
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 3_600, count: 10_000 },
      removeOnFail: { age: 604_800 },
    });
  });
});
