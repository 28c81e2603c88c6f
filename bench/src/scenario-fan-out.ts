/**
 * Scenario 2: one event to `fanOutTotal` users (10,000) of whom the connected
 * `users` (2,000) are online: time until every online recipient has it.
 *
 * - ceiling: one emitter message addressed to all 10,000 rooms;
 * - naive: one job carrying the 10,000 ids; the worker emits to each room in turn
 *   (the original module's `emitNotificationToUsers` loop, moved behind a queue);
 * - herald: `toUsers(ids)`, split into slices of 500; the dispatcher emits to the online
 *   users and schedules the fallback checks, which run `HERALD_ACK_TIMEOUT_MS` later: the
 *   online users have acked by then, the offline ones have no address (no email, counted
 *   undeliverable). The bench waits for them after each Herald run, so no run pays for
 *   the previous one's checks.
 */
import { sleep, type BenchContext } from './context.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import { waitForQueuesIdle } from './scenario-throughput.js';
import { waitForFallback } from './fallback-audit.js';
import type { BenchPath } from './stack.js';
import { concat, summarize, type LatencySummary } from './stats.js';

export interface FanOutRun {
  received: number;
  lost: number;
  duplicates: number;
  /** Publish → handler latency of each online recipient. */
  latency: LatencySummary;
  /** How long the publish call itself took (Herald: validation and enqueueing of every part). */
  publishMs: number;
  /** Herald: emails the fallback sent for this event (0 expected: online users ack, offline ones have no address). */
  emails?: number;
}

export interface PathFanOut {
  path: BenchPath;
  runs: FanOutRun[];
  /** All runs' recipients together. */
  latency: LatencySummary;
  /** The worst run's p99 (what the target is judged on). */
  worstP99Ms: number | null;
  worstMaxMs: number | null;
  lost: number;
  processes: ProcessUsage[];
  machine: MachineUsage;
}

export interface FanOutResult {
  recipients: number;
  online: number;
  paths: PathFanOut[];
}

/** User ids of the scenario: the online ones spread evenly through offline ones. */
export function fanOutRecipients(online: string[], total: number): string[] {
  const ids: string[] = [];
  const step = total / online.length;
  let next = 0;
  for (let i = 0; i < total; i++) {
    if (next < online.length && i >= Math.floor(next * step)) ids.push(online[next++] as string);
    else ids.push(`offline-${i}`);
  }
  return ids;
}

export async function runFanOut(ctx: BenchContext, paths: readonly BenchPath[]): Promise<FanOutResult> {
  const { scale } = ctx;
  const recipients = fanOutRecipients(ctx.onlineUsers, scale.fanOutTotal);
  ctx.log(`scenario 2: one event to ${recipients.length} users, ${ctx.onlineUsers.length} online`);
  const results: PathFanOut[] = [];
  for (const path of paths) {
    const runs: FanOutRun[] = [];
    const all: Float64Array[] = [];
    const from = Date.now();
    ctx.sampler.sampleNow();
    for (let r = 0; r < scale.fanOutRepeats; r++) {
      const phase = `fanout-${path}-${r}`;
      await trackPhase(ctx, phase);
      const sent = await ctx.stack.publisher(path).call('fanOut', { phase, seq: 0, userIds: recipients });
      await waitForReceipts(ctx, phase, ctx.onlineUsers.length, { stallMs: 3_000, maxMs: 30_000 });
      const receipts = await collect(ctx, phase);
      const run: FanOutRun = {
        received: receipts.unique,
        lost: ctx.onlineUsers.length - receipts.unique,
        duplicates: receipts.duplicates,
        latency: summarize(receipts.latencies),
        publishMs: Math.round((sent.settledAt - sent.publishedAt) * 10) / 10,
      };
      if (path === 'herald') {
        await waitForFallback(ctx, sent.settledAt + ctx.audit.ackTimeoutMs);
        const mails = await ctx.stack.takeMails();
        run.emails = mails.filter((m) => m.benchId === `${phase}-0`).length;
      }
      all.push(receipts.latencies);
      runs.push(run);
      ctx.log(
        `  ${path.padEnd(7)} run ${r + 1}: ${run.received}/${ctx.onlineUsers.length} received, ` +
          `p50 ${run.latency.p50} p99 ${run.latency.p99} max ${run.latency.max} ms (publish call ${run.publishMs} ms)` +
          (run.emails === undefined ? '' : `, ${run.emails} fallback emails`),
      );
      await waitForQueuesIdle(ctx, 20_000);
      await sleep(500);
    }
    ctx.sampler.sampleNow();
    const usage = ctx.sampler.usage(from, Date.now());
    const p99s = runs.map((r) => r.latency.p99).filter((v): v is number => v !== null);
    const maxes = runs.map((r) => r.latency.max).filter((v): v is number => v !== null);
    results.push({
      path,
      runs,
      latency: summarize(concat(all)),
      worstP99Ms: p99s.length > 0 ? Math.max(...p99s) : null,
      worstMaxMs: maxes.length > 0 ? Math.max(...maxes) : null,
      lost: runs.reduce((n, r) => n + r.lost, 0),
      processes: usage.processes,
      machine: usage.machine,
    });
  }
  return { recipients: recipients.length, online: ctx.onlineUsers.length, paths: results };
}
