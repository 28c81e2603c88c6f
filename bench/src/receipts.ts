import { sleep, type BenchContext } from './context.js';
import type { PhaseReport } from './load-client.js';
import { concat } from './stats.js';

/** What every load process recorded for one phase, merged: the same fields as one process's report. */
export type Receipts = PhaseReport;

/** Starts recording a phase in every load process. */
export async function trackPhase(
  ctx: BenchContext,
  phase: string,
  options: { perConnection?: boolean } = {},
): Promise<void> {
  await ctx.stack.all('track', { phase, ...options });
}

export interface WaitOptions {
  /** Give up when no new receipt arrived for this long. @default 2_000 */
  stallMs?: number;
  /** Give up after this long in any case. @default 30_000 */
  maxMs?: number;
}

/**
 * Waits until `expected` distinct receipts of `phase` arrived, or deliveries
 * stalled, or `maxMs` passed (a bounded wait: lost events must not hang the run).
 * Resolves with the distinct receipts counted.
 */
export async function waitForReceipts(
  ctx: BenchContext,
  phase: string,
  expected: number,
  options: WaitOptions = {},
): Promise<number> {
  const stallMs = options.stallMs ?? 2_000;
  const deadline = Date.now() + (options.maxMs ?? 30_000);
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    ctx.registry.check();
    const counts = await ctx.stack.all('count', { phase });
    const unique = counts.reduce((n, c) => n + c.unique, 0);
    if (unique >= expected) return unique;
    if (unique !== last) {
      last = unique;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange >= stallMs || Date.now() >= deadline) return unique;
    await sleep(50);
  }
}

/** Collects (and forgets) what the load processes recorded for `phase`. */
export async function collect(ctx: BenchContext, phase: string): Promise<Receipts> {
  const reports = await ctx.stack.all('report', { phase });
  return {
    count: reports.reduce((n, r) => n + r.count, 0),
    unique: reports.reduce((n, r) => n + r.unique, 0),
    duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    outOfOrder: reports.reduce((n, r) => n + r.outOfOrder, 0),
    replayed: reports.reduce((n, r) => n + r.replayed, 0),
    acksSent: reports.reduce((n, r) => n + r.acksSent, 0),
    syncsSent: reports.reduce((n, r) => n + r.syncsSent, 0),
    latencies: concat(reports.map((r) => r.latencies)),
    receivedAt: concat(reports.map((r) => r.receivedAt)),
    events: concat(reports.map((r) => r.events)),
    lastPerConnection: concat(reports.map((r) => r.lastPerConnection)),
  };
}
