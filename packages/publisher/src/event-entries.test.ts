import { describe, expect, it } from 'vitest';
import { EventEntryData, USERS_PER_SLICE, defaultCatalog, prepareEvent } from '@herald/contracts';
import { packEventJobs, toEventItems } from './event-jobs.js';

const notification = { notification: { title: 'Hello' } };
const limits = { maxEvents: 200, maxBytes: 1024 * 1024 };

function userEvent(userId: string, eventId?: string) {
  return prepareEvent(defaultCatalog, {
    event: 'notification:new',
    to: { user: userId },
    payload: notification,
    options: eventId ? { eventId } : {},
  });
}

describe('toEventItems', () => {
  it('splits a large user target into USERS_PER_SLICE slices, in order, numbered as parts', () => {
    const userIds = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const event = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { users: userIds },
      payload: notification,
    });
    const items = toEventItems(event);

    expect(items).toHaveLength(10_000 / USERS_PER_SLICE);
    const carried = items.flatMap(({ item }) => (item.target.kind === 'users' ? item.target.userIds : []));
    expect(carried).toEqual(userIds);
    items.forEach(({ item, users }, index) => {
      expect(item.part).toEqual({ index, count: 20 });
      expect(item.eventId).toBe(event.eventId);
      expect(users).toBe(USERS_PER_SLICE);
    });
  });
});

describe('packEventJobs', () => {
  it('never puts more than USERS_PER_SLICE user ids in one job: a toUsers of 10,000 is 20 jobs', () => {
    const userIds = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const event = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { users: userIds },
      payload: notification,
    });
    const jobs = packEventJobs(toEventItems(event), limits);
    expect(jobs).toHaveLength(20);
    for (const job of jobs) {
      expect(EventEntryData.parse(job.data)).toEqual(job.data);
      expect(job.data.events).toHaveLength(1);
      expect(job.name).toBe('notification:new');
    }
  });

  it('packs single-user events up to maxEvents per job, in order', () => {
    const items = Array.from({ length: 450 }, (_, i) => toEventItems(userEvent(`u${i}`, `e-${i}`))).flat();
    const jobs = packEventJobs(items, limits);
    expect(jobs.map((job) => job.data.events.length)).toEqual([200, 200, 50]);
    expect(jobs.flatMap((job) => job.data.events.map((e) => e.eventId))).toEqual(
      items.map(({ item }) => item.eventId),
    );
  });

  it('closes a job before the payload bytes or the user ids of the next item would exceed the bound', () => {
    const items = Array.from({ length: 5 }, (_, i) => toEventItems(userEvent(`u${i}`))).flat();
    const bytes = items[0]!.bytes;
    expect(bytes).toBe(JSON.stringify(notification).length);
    expect(
      packEventJobs(items, { maxEvents: 200, maxBytes: bytes * 2 }).map((j) => j.data.events.length),
    ).toEqual([2, 2, 1]);
    // One item over the bound still goes, alone.
    expect(packEventJobs(items.slice(0, 2), { maxEvents: 200, maxBytes: 1 })).toHaveLength(2);

    const big = prepareEvent(defaultCatalog, {
      event: 'xp:gained',
      to: { users: Array.from({ length: 499 }, (_, i) => `b${i}`) },
      payload: { amount: 1, source: 's', totalXp: 1 },
    });
    const jobs = packEventJobs([...toEventItems(big), ...items.slice(0, 2)], limits);
    expect(jobs.map((job) => job.data.events.length)).toEqual([2, 1]);
    expect(jobs.map((job) => job.name)).toEqual(['batch', 'notification:new']);
  });

  it('gives every job the retry and retention options', () => {
    const [job] = packEventJobs(toEventItems(userEvent('u1', 'lb-1')), limits);
    expect(job?.data).toMatchObject({ events: [{ eventId: 'lb-1', part: { index: 0, count: 1 } }] });
    expect(job?.opts).toEqual({
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 3_600, count: 1_000 },
      removeOnFail: { age: 604_800 },
    });
  });
});
