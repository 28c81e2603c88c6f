/** A function returning numbers in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a small, fast, seeded PRNG, so a failing property or fuzz run can be
 * replayed from the seed it printed.
 */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A fresh, unguessable secret starting with `label`, easy to search for in captured logs. */
export function randomSecret(label: string): string {
  return `${label}${crypto.randomUUID().replaceAll('-', '')}`;
}
