import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineWheel } from './deadline-wheel.js';

const T0 = 1_750_000_000; // an epoch second

describe('DeadlineWheel', () => {
  beforeEach(() => void vi.useFakeTimers({ now: T0 * 1000 + 400 }));
  afterEach(() => void vi.useRealTimers());

  function wheel() {
    const fired: Array<{ at: number; second: number; items: string[] }> = [];
    const w = new DeadlineWheel<string>((items, second) =>
      fired.push({ at: Date.now(), second, items: [...items] }),
    );
    return { w, fired };
  }

  it('fires each second at its start, with one timer, in order', () => {
    const { w, fired } = wheel();
    w.add(T0 + 3, 'c');
    w.add(T0 + 1, 'a');
    w.add(T0 + 1, 'b');
    w.add(T0 + 2, 'x');
    w.delete(T0 + 2, 'x');
    expect(w.size).toBe(3);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(599);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([{ at: (T0 + 1) * 1000, second: T0 + 1, items: ['a', 'b'] }]);
    vi.advanceTimersByTime(5_000);
    expect(fired.map((f) => [f.at, f.items])).toEqual([
      [(T0 + 1) * 1000, ['a', 'b']],
      [(T0 + 3) * 1000, ['c']],
    ]);
    expect(w.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires a past second at once and rearms for an earlier one', () => {
    const { w, fired } = wheel();
    w.add(T0 + 100, 'late');
    w.add(T0 - 5, 'past');
    vi.advanceTimersByTime(0);
    expect(fired.map((f) => f.items)).toEqual([['past']]);
    w.add(T0 + 2, 'soon');
    vi.advanceTimersByTime(1_600);
    expect(fired.map((f) => f.items)).toEqual([['past'], ['soon']]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('reaches far deadlines in hops and stops on close', () => {
    const { w, fired } = wheel();
    w.add(T0 + 40 * 24 * 3600, 'far');
    vi.advanceTimersByTime(40 * 24 * 3600 * 1000 - 401);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired.map((f) => f.items)).toEqual([['far']]);
    w.add(T0 + 40 * 24 * 3600 + 10, 'never');
    w.close();
    w.add(T0 + 40 * 24 * 3600 + 11, 'ignored');
    vi.advanceTimersByTime(60_000);
    expect(fired).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps firing later seconds when a callback throws', () => {
    const seen: string[] = [];
    const w = new DeadlineWheel<string>((items) => {
      seen.push(...items);
      if (items.has('boom')) throw new Error('boom');
    });
    w.add(T0 + 1, 'boom');
    w.add(T0 + 2, 'after');
    expect(() => vi.advanceTimersByTime(700)).toThrow('boom');
    vi.advanceTimersByTime(1_000);
    expect(seen).toEqual(['boom', 'after']);
  });
});
