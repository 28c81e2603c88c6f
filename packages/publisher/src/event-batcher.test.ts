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
  const sends: Array<{ jobs: EventJob[]; done(error?: Error): void }> = [];
  const batcher = createEventBatcher({
    maxEvents,
    maxBytes: 1024 * 1024,
    lingerMs: 0,
    addBulk: (jobs) =>
      new Promise<void>((resolve, reject) =>
        sends.push({ jobs, done: (error) => (error ? reject(error) : resolve()) }),
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
