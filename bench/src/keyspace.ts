/**
 * What the run's keys hold, grouped by shape: every id-like part of a key (one with a digit,
 * or a long token) becomes `*`, so `{p}:event:soak-3-17:0` and `{p}:event:soak-4-2:0` are one group. Each
 * group's size is estimated from `MEMORY USAGE` of a sample of its keys. The soak takes
 * one at its start and one at its end, so a growth is named by the keys that grew.
 */
import type { Redis, RedisClient } from '@herald/core';
import { masterNodes } from './redis-target.js';

export interface KeyGroup {
  pattern: string;
  keys: number;
  /** Estimated bytes: the sampled keys' mean `MEMORY USAGE` × keys. */
  bytes: number;
}

/** Keys sampled per group for `MEMORY USAGE`. */
const SAMPLE = 20;
/** SCAN calls at most (1,000 keys each), over all masters: the summary must stay bounded on a large Redis. */
const MAX_SCANS = 2_000;

/**
 * A glob for every key of the run: those under the prefix's own tag (`{bench-x}:…`) and those
 * under a partition's tag (`{bench-x:7}:…`).
 */
export function runKeysGlob(prefix: string): string {
  return `${prefix.slice(0, -1)}[}:]*`;
}

/** An id-like part of a key: one with a digit, or a long token (generated job ids such as `fbg-qJVV…`). */
function isId(part: string): boolean {
  return /\d/.test(part) || part.length >= 20;
}

export function keyPattern(key: string, prefix: string): string {
  const name = prefix.slice(0, -1);
  // `{name}` → `{p}`, `{name:7}` → `{n}` (a partition's tag).
  const tag = key.startsWith(`${name}}`) ? '{p}' : key.startsWith(`${name}:`) ? '{n}' : '';
  const rest = tag ? key.slice(key.indexOf('}') + 1) : key;
  return `${tag}${rest
    .split(':')
    .map((part) => (isId(part) ? '*' : part))
    .join(':')}`;
}

/** The keys under `prefix`, grouped by pattern, largest first. */
export async function keyspaceSummary(redis: RedisClient, prefix: string): Promise<KeyGroup[]> {
  // A group's sample is measured on the master its keys were scanned on (SCAN and MEMORY USAGE per master).
  const groups = new Map<string, { keys: number; sample: Array<{ node: Redis; key: string }> }>();
  let scans = 0;
  for (const node of await masterNodes(redis)) {
    let cursor = '0';
    while (scans++ < MAX_SCANS) {
      const [next, keys] = await node.scan(cursor, 'MATCH', runKeysGlob(prefix), 'COUNT', 1_000);
      for (const key of keys) {
        const pattern = keyPattern(key, prefix);
        const group = groups.get(pattern) ?? { keys: 0, sample: [] };
        group.keys += 1;
        if (group.sample.length < SAMPLE) group.sample.push({ node, key });
        groups.set(pattern, group);
      }
      cursor = next;
      if (cursor === '0') break;
    }
  }
  const out: KeyGroup[] = [];
  for (const [pattern, group] of groups) {
    const sizes = await Promise.all(
      group.sample.map(async ({ node, key }) => Number((await node.memory('USAGE', key)) ?? 0)),
    );
    const mean = sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length);
    out.push({ pattern, keys: group.keys, bytes: Math.round(mean * group.keys) });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Per pattern: keys and bytes at the end, and their change since the start; largest growth first. */
export function keyspaceGrowth(
  before: readonly KeyGroup[],
  after: readonly KeyGroup[],
): Array<KeyGroup & { keysAdded: number; bytesAdded: number }> {
  const start = new Map(before.map((g) => [g.pattern, g]));
  return after
    .map((g) => ({
      ...g,
      keysAdded: g.keys - (start.get(g.pattern)?.keys ?? 0),
      bytesAdded: g.bytes - (start.get(g.pattern)?.bytes ?? 0),
    }))
    .sort((a, b) => b.bytesAdded - a.bytesAdded);
}
