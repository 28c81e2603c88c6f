import { describe, expect, it } from 'vitest';
import { keyPattern, runKeysGlob } from './keyspace.js';

describe('keyPattern', () => {
  it("groups keys by shape: the prefix's tag as {p}, a partition's as {n}, ids as *", () => {
    expect(keyPattern('{bench-1a}:fallback:123', '{bench-1a}')).toBe('{p}:fallback:*');
    expect(keyPattern('{bench-1a}:fallback:completed', '{bench-1a}')).toBe('{p}:fallback:completed');
    expect(keyPattern('{bench-1a}:fallback:fbg-qJVVYuRokdIpvABxOIFcuPZynrQSnhHl', '{bench-1a}')).toBe(
      '{p}:fallback:*',
    );
    expect(keyPattern('{bench-1a:7}:inbox:soak-user-3', '{bench-1a}')).toBe('{n}:inbox:*');
    expect(keyPattern('{bench-1a:12}:fallback-sent:14:soak-3-17:soak-never-9', '{bench-1a}')).toBe(
      '{n}:fallback-sent:*:*:*',
    );
  });

  it("globs the prefix's keys and its partitions' keys, not another prefix's", () => {
    expect(runKeysGlob('{bench-1a}')).toBe('{bench-1a[}:]*');
  });
});
