import { describe, expect, it } from 'vitest';
import { defaultCatalog, prepareEvent } from '@herald/contracts';
import { createEventBatcher } from './event-batcher.js';
import { toEventItems, type EventJob } from './event-jobs.js';

const item = (n: number) =>
  toEventItems(
    prepareEvent(defaultCatalog, {
      event: 'xp:gained',
      to: { user: `u${n}` },
      payload: { amount: n, source: 's', totalXp: n },
    }),
  );
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A batcher whose sends complete when the test says so, recording the jobs of each send. */
function controlled(maxEvents = 200) {
  const sends: Array<{ jobs: EventJob[]; done(error?: Error, outcomes?: unknown[]): void }> = [];
  const batcher = createEventBatcher({
    maxEvents,
    maxBytes: 1024 * 1024,
    lingerMs: 0,
    addBulk: (jobs) =>
      new Promise<readonly unknown[]>((resolve, reject) =>
        sends.push({
          jobs,
          done: (error, outcomes) => (error ? reject(error) : resolve(outcomes ?? jobs.map(() => undefined))),
        }),
      ),
  });
  const sizes = () => sends.map((s) => s.jobs.flatMap((j) => j.data.events).length);
  return { batcher, sends, sizes };
}

describe('createEventBatcher', () => {
  it('sends a lone event at the end of its tick, without waiting for a timer', async () => {
    const { batcher, sizes } = controlled();
    void batcher.add(item(1));
    expect(sizes()).toEqual([]);
    await tick();
    expect(sizes()).toEqual([1]);
  });

  it('gathers what is published while a send is in flight and sends it when that one returns', async () => {
    const { batcher, sends, sizes } = controlled();
    const first = batcher.add(item(0));
    await tick();
    const later: Array<Promise<void>> = [];
    for (let i = 1; i <= 30; i++) {
      later.push(batcher.add(item(i)));
      await tick();
    }
    expect(sizes()).toEqual([1]);
    sends[0]!.done();
    await first;
    await tick();
    expect(sizes()).toEqual([1, 30]);
    sends[1]!.done();
    await Promise.all(later);
  });

  it('sends a full batch at once even while another is in flight, and rejects only the failed send', async () => {
    const { batcher, sends, sizes } = controlled(10);
    const first = batcher.add(item(0));
    await tick();
    const full = Array.from({ length: 10 }, (_, i) => batcher.add(item(i + 1)));
    expect(sizes()).toEqual([1, 10]);
    sends[1]!.done(new Error('refused'));
    sends[0]!.done();
    await first;
    for (const result of await Promise.allSettled(full)) expect(result.status).toBe('rejected');
  });

  it('settles each event by the jobs that carry it: a failed job rejects only its own events', async () => {
    const { batcher, sends } = controlled();
    const many = (from: number, count: number) =>
      toEventItems(
        prepareEvent(defaultCatalog, {
          event: 'xp:gained',
          to: { users: Array.from({ length: count }, (_, i) => `u${from + i}`) },
          payload: { amount: 1, source: 's', totalXp: 1 },
        }),
      );
    const before = batcher.add(item(0));
    const wide = batcher.add(many(1, 1_000)); // two slices of 500 users: two jobs
    const after = batcher.add(item(2_000));
    await tick();
    expect(sends.map((s) => s.jobs.map((j) => j.data.events.length))).toEqual([[1, 1, 1, 1]]);
    sends[0]!.done(undefined, [undefined, undefined, new Error('second slice refused'), undefined]);
    const settled = await Promise.allSettled([before, wide, after]);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('second slice refused'));
  });

  it('under load, lets a batch wait busy.lingerMs to fill, and goes back to the short linger once the load is gone', async () => {
    const sent: number[] = [];
    const batcher = createEventBatcher({
      maxEvents: 200,
      maxBytes: 1024 * 1024,
      lingerMs: 0,
      busy: { rate: 1_000, lingerMs: 40 },
      addBulk: (jobs) => {
        sent.push(jobs.flatMap((j) => j.data.events).length);
        return Promise.resolve(jobs.map(() => undefined));
      },
    });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // 600 events at once: full batches go at once; the meter sees ≥ 1,000/s once its 100 ms window closes.
    await Promise.all(Array.from({ length: 600 }, (_, i) => batcher.add(item(i))));
    expect(sent).toEqual([200, 200, 200]);
    await sleep(110);
    const lone = batcher.add(item(600));
    await tick();
    await sleep(10);
    expect(sent).toHaveLength(3); // waiting for company: under load the linger is 40 ms, not a tick
    const company = batcher.add(item(601));
    await Promise.all([lone, company]);
    expect(sent).toEqual([200, 200, 200, 2]);
    // A quiet spell: the rate over it is far below 1,000/s, so a lone event goes at the end of its tick again.
    await sleep(300);
    void batcher.add(item(602));
    await tick();
    expect(sent).toEqual([200, 200, 200, 2, 1]);
  });

  it('drain sends what is pending and waits for every send', async () => {
    const { batcher, sends, sizes } = controlled();
    const added = batcher.add(item(1));
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    expect(sizes()).toEqual([1]);
    await tick();
    expect(drained).toBe(false);
    sends[0]!.done();
    await Promise.all([added, draining]);
    expect(drained).toBe(true);
  });
});
