import { afterEach } from 'vitest';

/** Registers one cleanup; cleanups run last-first after each test. */
export type Defer = (fn: () => unknown) => void;

/**
 * Registers cleanups that run (last first) after each test, so every test closes
 * what it opened even when it fails half-way. Call once per test file.
 */
export function useCleanup(): Defer {
  const fns: Array<() => unknown> = [];
  afterEach(async () => {
    for (const fn of fns.splice(0).reverse()) await fn();
  });
  return (fn) => void fns.push(fn);
}
