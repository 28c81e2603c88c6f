import { describe, expect, it } from 'vitest';
import { readCursor, writeCursor, type CursorStorage } from './cursor-store.js';

/** A Web Storage stand-in: a Map behind getItem/setItem, as `localStorage` behaves. */
function memoryStorage(initial: Record<string, string> = {}): CursorStorage & { items: Map<string, string> } {
  const items = new Map(Object.entries(initial));
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
}

describe('cursor storage', () => {
  it('writes { userId, lastSeq } under one key and reads it back', () => {
    const storage = memoryStorage();
    expect(readCursor(storage, 'k')).toBeUndefined();
    writeCursor(storage, 'k', { userId: 'u1', lastSeq: 42 });
    expect(JSON.parse(storage.items.get('k')!)).toEqual({ userId: 'u1', lastSeq: 42 });
    expect(readCursor(storage, 'k')).toEqual({ userId: 'u1', lastSeq: 42 });
  });

  it.each([
    ['not JSON', '{oops', /not JSON/],
    ['no userId', '{"lastSeq":1}', /not \{ userId/],
    ['a negative seq', '{"userId":"u","lastSeq":-1}', /not \{ userId/],
    ['a fractional seq', '{"userId":"u","lastSeq":1.5}', /not \{ userId/],
    ['an empty userId', '{"userId":"","lastSeq":1}', /not \{ userId/],
    [
      'a userId outside the id grammar',
      '{"userId":"a{b}","lastSeq":1}',
      /not \{ userId: 1-128 printable ASCII/,
    ],
    ['null', 'null', /not \{ userId/],
  ])('refuses %s, naming the key', (_name, raw, message) => {
    expect(() => readCursor(memoryStorage({ k: raw }), 'k')).toThrow(message);
    expect(() => readCursor(memoryStorage({ k: raw }), 'k')).toThrow(/"k"/);
  });
});
