import { describe, expect, it } from 'vitest';
import { createCheckBatcher, type CheckBatcherOptions } from './check-batcher.js';
import type { CheckedItem } from './fallback-jobs.js';

function check(eventId: string, users = 1): CheckedItem {
  return {
    item: {
      eventId,
      event: 'notification:new',
      payload: {},
      target: { kind: 'users', userIds: Array.from({ length: users }, (_, i) => `u${i}`) },
      fallback: { channel: 'email' },
      publishedAt: 1,
      part: { index: 0, count: 1 },
    },
    fallback: { channel: 'email' },
    users: Array.from({ length: users }, (_, i) => ({ userId: `u${i}`, seq: 1 })),
  };
}

function recording(options: Partial<CheckBatcherOptions> = {}) {
  const jobs: string[][] = [];
  const batcher = createCheckBatcher({
    lingerMs: 20,
    maxWaiters: 100,
    maxUsers: 1_000,
    maxChecks: 200,
    addJob: (checked) => {
      jobs.push(checked.map((c) => c.item.eventId));
      return Promise.resolve();
    },
    ...options,
  });
  return { jobs, batcher };
}

describe('createCheckBatcher', () => {
  it('puts the checks of stream entries added within the linger into one fallback job', async () => {
    const { jobs, batcher } = recording();
    await Promise.all([batcher.add([check('a'), check('b')]), batcher.add([check('c')])]);
    expect(jobs).toEqual([['a', 'b', 'c']]);
  });

  it('sends at once when enough stream entries wait, or the batch holds enough users', async () => {
    const byWaiters = recording({ lingerMs: 60_000, maxWaiters: 2 });
    await Promise.all([byWaiters.batcher.add([check('a')]), byWaiters.batcher.add([check('b')])]);
    expect(byWaiters.jobs).toEqual([['a', 'b']]);

    const byUsers = recording({ lingerMs: 60_000, maxUsers: 10 });
    await byUsers.batcher.add([check('a', 4), check('b', 6)]);
    expect(byUsers.jobs).toEqual([['a', 'b']]);
  });

  it('never puts more than maxChecks checks in one job, nor splits one stream entry over two', async () => {
    const { jobs, batcher } = recording({ lingerMs: 5, maxChecks: 3 });
    await Promise.all([
      batcher.add([check('a'), check('b')]),
      batcher.add([check('c'), check('d')]),
      batcher.add([check('e')]),
    ]);
    expect(jobs).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
  });

  it('with lingerMs 0, gives each stream entry a fallback job of its own', async () => {
    const { jobs, batcher } = recording({ lingerMs: 0 });
    await Promise.all([batcher.add([check('a'), check('b')]), batcher.add([check('c')])]);
    expect(jobs).toEqual([['a', 'b'], ['c']]);
  });

  it('resolves nothing before the job is added, and rejects every waiter of a failed add', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = createCheckBatcher({
      lingerMs: 0,
      maxWaiters: 10,
      maxUsers: 100,
      maxChecks: 200,
      addJob: () => gate,
    });
    let done = false;
    const added = slow.add([check('a')]).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await added;
    expect(done).toBe(true);

    const failing = createCheckBatcher({
      lingerMs: 5,
      maxWaiters: 10,
      maxUsers: 100,
      maxChecks: 200,
      addJob: () => Promise.reject(new Error('redis down')),
    });
    const results = await Promise.allSettled([failing.add([check('a')]), failing.add([check('b')])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);

    const throwing = createCheckBatcher({
      lingerMs: 5,
      maxWaiters: 10,
      maxUsers: 100,
      maxChecks: 200,
      addJob: () => {
        throw new Error('bad check');
      },
    });
    const thrown = await Promise.allSettled([throwing.add([check('a')]), throwing.add([check('b')])]);
    expect(thrown.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('has nothing to add for a job without checks, and drain sends what is pending', async () => {
    const { jobs, batcher } = recording({ lingerMs: 60_000 });
    await batcher.add([]);
    expect(jobs).toEqual([]);
    const pending = batcher.add([check('a')]);
    await batcher.drain();
    await pending;
    expect(jobs).toEqual([['a']]);
  });
});
