import { describe, expect, it } from 'vitest';
import { defaultCatalog, prepareEvent } from '@herald/contracts';
import { createKeys } from '@herald/core';
import { createEventBatcher, type EventBatcherOptions, type EntryOutcome } from './event-batcher.js';
import { toEventItems, type EventEntry } from './event-entries.js';

/** One partition: entries are packed as one list, which is what most of these tests look at. */
const onePartition = createKeys('{batcher}', 1);
const item = (n: number, keys = onePartition) =>
  toEventItems(
    prepareEvent(defaultCatalog, {
      event: 'xp:gained',
      to: { user: `u${n}` },
      payload: { amount: n, source: 's', totalXp: n },
    }),
    keys,
  );
/** How a promise settled: 'resolved', or its error's message (handled at once, so no rejection goes unhandled). */
const outcomeOf = (promise: Promise<void>) =>
  promise.then(
    () => 'resolved',
    (error: Error) => error.message,
  );
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A batcher whose sends complete when the test says so, recording the entries of each send. */
function controlled(maxEvents = 200, gate?: EventBatcherOptions['gate']) {
  const sends: Array<{ jobs: EventEntry[]; done(error?: Error, outcomes?: EntryOutcome[]): void }> = [];
  const batcher = createEventBatcher({
    maxEvents,
    maxBytes: 1024 * 1024,
    lingerMs: 0,
    ...(gate ? { gate } : {}),
    append: (jobs) =>
      new Promise<readonly EntryOutcome[]>((resolve, reject) =>
        sends.push({
          jobs,
          done: (error, outcomes) =>
            error ? reject(error) : resolve(outcomes ?? jobs.map(() => ({ appended: true }))),
        }),
      ),
  });
  const sizes = () => sends.map((s) => s.jobs.flatMap((j) => j.items).length);
  return { batcher, sends, sizes };
}

describe('createEventBatcher', () => {
  it('sends a lone event at the end of its tick, without waiting for a timer', async () => {
    const { batcher, sizes } = controlled();
    void batcher.add(item(1)).done;
    expect(sizes()).toEqual([]);
    await tick();
    expect(sizes()).toEqual([1]);
  });

  it('gathers what is published while a send is in flight and sends it when that one returns', async () => {
    const { batcher, sends, sizes } = controlled();
    const first = batcher.add(item(0)).done;
    await tick();
    const later: Array<Promise<void>> = [];
    for (let i = 1; i <= 30; i++) {
      later.push(batcher.add(item(i)).done);
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
    const first = batcher.add(item(0)).done;
    await tick();
    const full = Array.from({ length: 10 }, (_, i) => batcher.add(item(i + 1)).done);
    expect(sizes()).toEqual([1, 10]);
    sends[1]!.done(new Error('refused'));
    sends[0]!.done();
    await first;
    for (const result of await Promise.allSettled(full)) expect(result.status).toBe('rejected');
  });

  it('settles each event by the entries that carry it: a failed entry rejects only its own events', async () => {
    const { batcher, sends } = controlled();
    const many = (from: number, count: number) =>
      toEventItems(
        prepareEvent(defaultCatalog, {
          event: 'xp:gained',
          to: { users: Array.from({ length: count }, (_, i) => `u${from + i}`) },
          payload: { amount: 1, source: 's', totalXp: 1 },
        }),
        onePartition,
      );
    const before = batcher.add(item(0)).done;
    const wide = batcher.add(many(1, 1_000)).done; // two slices of 500 users: two entries
    const after = batcher.add(item(2_000)).done;
    await tick();
    expect(sends.map((s) => s.jobs.map((j) => j.items.length))).toEqual([[1, 1, 1, 1]]);
    const ok: EntryOutcome = { appended: true };
    sends[0]!.done(undefined, [ok, ok, { appended: false, error: new Error('second slice refused') }, ok]);
    const settled = await Promise.allSettled([before, wide, after]);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('second slice refused'));
  });

  it('settles each event by its own entries when the batch spreads over partitions', async () => {
    const keys = createKeys('{batcher}', 16);
    const { batcher, sends } = controlled();
    const users = Array.from({ length: 40 }, (_, i) => i);
    const outcomes = users.map((n) => outcomeOf(batcher.add(item(n, keys)).done));
    await tick();
    const entries = sends[0]!.jobs;
    expect(entries.length).toBeGreaterThan(5);
    // Each entry holds one partition; together they hold every event once.
    for (const entry of entries)
      for (const sized of entry.items) expect(sized.partition).toBe(entry.partition);
    expect(entries.flatMap((e) => e.sources).sort((a, b) => a - b)).toEqual(users);
    // The entry of u7's partition fails: exactly the events in it are rejected.
    const failed = entries.findIndex((e) => e.sources.includes(7));
    sends[0]!.done(
      undefined,
      entries.map((_, i) =>
        i === failed ? { appended: false, error: new Error('lost') } : { appended: true },
      ),
    );
    const rejected = new Set(entries[failed]!.sources);
    expect(await Promise.all(outcomes)).toEqual(users.map((n) => (rejected.has(n) ? 'lost' : 'resolved')));
  });

  it('under load, lets a batch wait busy.lingerMs to fill, and goes back to the short linger once the load is gone', async () => {
    const sent: number[] = [];
    const batcher = createEventBatcher({
      maxEvents: 200,
      maxBytes: 1024 * 1024,
      lingerMs: 0,
      busy: { rate: 1_000, lingerMs: 40 },
      append: (jobs) => {
        sent.push(jobs.flatMap((j) => j.items).length);
        return Promise.resolve(jobs.map((): EntryOutcome => ({ appended: true })));
      },
    });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // 600 events at once: full batches go at once; the meter sees ≥ 1,000/s once its 100 ms window closes.
    await Promise.all(Array.from({ length: 600 }, (_, i) => batcher.add(item(i)).done));
    expect(sent).toEqual([200, 200, 200]);
    await sleep(110);
    const lone = batcher.add(item(600)).done;
    await tick();
    await sleep(10);
    expect(sent).toHaveLength(3); // waiting for company: under load the linger is 40 ms, not a tick
    const company = batcher.add(item(601)).done;
    await Promise.all([lone, company]);
    expect(sent).toEqual([200, 200, 200, 2]);
    // A quiet spell: the rate over it is far below 1,000/s, so a lone event goes at the end of its tick again.
    await sleep(300);
    void batcher.add(item(602)).done;
    await tick();
    expect(sent).toEqual([200, 200, 200, 2, 1]);
  });

  it('drain sends what is pending and waits for every send', async () => {
    const { batcher, sends, sizes } = controlled();
    const added = batcher.add(item(1)).done;
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    expect(sizes()).toEqual([1]);
    await tick();
    expect(drained).toBe(false);
    sends[0]!.done();
    await Promise.all([added, draining]);
    expect(drained).toBe(true);
  });

  it('rejects only the event whose item was refused on its own, though its entry went in', async () => {
    const { batcher, sends } = controlled();
    const first = outcomeOf(batcher.add(item(0)).done);
    const second = outcomeOf(batcher.add(item(1)).done);
    await tick();
    sends[0]!.done(undefined, [{ appended: true, refused: new Map([[1, new Error('conflict')]]) }]);
    expect([await first, await second]).toEqual(['resolved', 'conflict']);
  });

  it('withdraws an event still waiting behind a send in flight: it is never sent', async () => {
    const { batcher, sends, sizes } = controlled();
    const first = batcher.add(item(0));
    await tick();
    const waiting = batcher.add(item(1));
    const outcome = outcomeOf(waiting.done);
    const kept = batcher.add(item(2));
    await tick();
    expect(waiting.withdraw(new Error('deadline'))).toBe(true);
    expect(await outcome).toBe('deadline');
    // The one in flight was sent: too late to take it back.
    expect(first.withdraw(new Error('deadline'))).toBe(false);
    sends[0]!.done();
    await first.done;
    await tick();
    expect(sends[1]!.jobs.flatMap((j) => j.items.map((e) => e.item.target))).toEqual([
      { kind: 'users', userIds: ['u2'] },
    ]);
    sends[1]!.done();
    await kept.done;
    expect(sizes()).toEqual([1, 1]);
  });

  it('refuses, unsent, a batch the gate refuses, and holds one back while the gate waits', async () => {
    let gate: undefined | Error | Promise<unknown> = new Error('redis is down');
    const { batcher, sends, sizes } = controlled(200, () => gate);
    const refused = outcomeOf(batcher.add(item(0)).done);
    await tick();
    expect(await refused).toBe('redis is down');
    let open!: () => void;
    gate = new Promise<void>((resolve) => (open = resolve));
    const held = batcher.add(item(1));
    const withdrawn = batcher.add(item(2));
    const outcome = outcomeOf(withdrawn.done);
    await tick();
    expect(sizes()).toEqual([]);
    expect(withdrawn.withdraw(new Error('deadline'))).toBe(true);
    gate = undefined;
    open();
    await tick();
    await tick();
    expect(sizes()).toEqual([1]);
    sends[0]!.done();
    await held.done;
    expect(await outcome).toBe('deadline');
  });
});
