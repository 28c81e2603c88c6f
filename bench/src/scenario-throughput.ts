/**
 * Scenario 1: user-targeted events to the connected users at fixed rates (500/s,
 * 2,000/s), then a search for each path's maximum sustained rate.
 */
import { sleep, type BenchContext } from './context.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import type { BenchPath } from './stack.js';
import { round, summarize, type LatencySummary } from './stats.js';

/** Thresholds of "sustained" (also printed in the report). */
export const SUSTAINED = {
  /** The publisher issued at least this share of the offered rate on time. */
  minOfferedShare: 0.95,
  /** Deliveries inside the publishing window (plus a grace) were at least this share of what was published. */
  minDeliveredShare: 0.95,
  /** The window's grace: events published in its last moments are still in flight when it closes. */
  windowGraceMs: 100,
  /** p99 publish→handler latency at most this. */
  maxP99Ms: 500,
  /** Median latency of the last second at most this much above the first second's (no growing backlog). */
  maxLagGrowthMs: 50,
} as const;

export const SUSTAINED_DEFINITION =
  `a step is sustained when the publisher issued ≥ ${SUSTAINED.minOfferedShare * 100}% of the offered rate on time, ` +
  `deliveries inside the publishing window (+${SUSTAINED.windowGraceMs} ms) were ≥ ${SUSTAINED.minDeliveredShare * 100}% ` +
  `of the events published, ` +
  `nothing was lost or out of seq order, p99 ≤ ${SUSTAINED.maxP99Ms} ms, and the median latency of events published in the last second ` +
  `was at most ${SUSTAINED.maxLagGrowthMs} ms above the first second's (no growing backlog). ` +
  `The maximum sustained rate is the highest delivered/s of a sustained step; the search multiplies the offered rate ` +
  `by 1.6 from 2,000/s until a step is not sustained, then bisects (geometric mean) while the bracket is wider than 15%.`;

export interface StepResult {
  path: BenchPath;
  phase: string;
  kind: 'fixed' | 'search' | 'profile';
  /** Offered rate asked of the publisher (events/s). */
  targetRate: number;
  durationMs: number;
  /** Events the publisher issued per second of the step. */
  offeredPerS: number;
  /** Distinct deliveries inside the publishing window, per second. */
  deliveredPerS: number;
  published: number;
  skipped: number;
  publishErrors: number;
  publishErrorSamples: string[];
  received: number;
  lost: number;
  /** Events a device's handler got twice (the SDK drops repeats: should be 0). */
  duplicates: number;
  /** Events a device's handler got after a higher seq (Herald's events carry one; should be 0). */
  outOfOrder: number;
  /** `herald:ack` packets the devices sent per published event (Herald only: events without a seq are not acked). */
  acksPerEvent: number;
  /** `herald:sync` requests the devices sent (a seq went missing for `reorderWaitMs`). */
  syncs: number;
  /** CPU of the load processes together (the SDK clients), % of one core. */
  loadCpuPct: number;
  latency: LatencySummary;
  /** Median latency, last second minus first second (ms). */
  lagGrowthMs: number | null;
  /** Time from the last publish to the last delivery. */
  drainMs: number | null;
  /** How long the publisher's last calls took to resolve after it stopped issuing (publisher-side congestion). */
  publishSettleMs: number;
  /** Jobs still waiting or active in the path's queue once every publish had resolved (consumer-side backlog). */
  queuedAtEnd: number;
  /** Redis time per published event by command (INFO commandstats before and after the step), largest first. */
  redisCommands: RedisCommandCost[];
  /** Redis time per published event, all commands (µs). */
  redisUsecPerEvent: number;
  sustained: boolean;
  /** Why the step is not sustained (empty when it is). */
  notSustainedBecause: string[];
  processes: ProcessUsage[];
  machine: MachineUsage;
}

let stepCounter = 0;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Runs one step: `rate` events/s for `durationMs` on `path`, then waits for delivery and judges it. */
export async function runStep(
  ctx: BenchContext,
  path: BenchPath,
  rate: number,
  durationMs: number,
  kind: StepResult['kind'],
): Promise<StepResult> {
  const phase = `${path}-${rate}-${++stepCounter}`;
  await trackPhase(ctx, phase);
  const statsBefore = await redisCommandStats(ctx);
  ctx.sampler.sampleNow();
  const run = await ctx.stack
    .publisher(path)
    .call('run', { phase, rate, durationMs, userIds: ctx.onlineUsers }, durationMs + 120_000);
  ctx.sampler.sampleNow();
  // Where a backlog sits when publishing ends: jobs still queued (the consumer is behind).
  const queuedAtEnd =
    path === 'ceiling' ? 0 : await queuedJobs(ctx, path === 'naive' ? 'naive-events' : 'events');
  const usage = ctx.sampler.usage(Math.floor(run.startedAt), Math.ceil(run.endedAt) + 1);
  await waitForReceipts(ctx, phase, run.published, { stallMs: 2_000, maxMs: 30_000 });
  // After delivery, so the commands of every published event are counted (and a few of the bench's own).
  const redisCommands = perEvent(statsBefore, await redisCommandStats(ctx), run.published);
  const receipts = await collect(ctx, phase);

  const seconds = (run.endedAt - run.startedAt) / 1000;
  let inWindow = 0;
  let inWindowWithGrace = 0;
  let lastReceipt = -Infinity;
  const first: number[] = [];
  const last: number[] = [];
  for (let i = 0; i < receipts.receivedAt.length; i++) {
    const at = receipts.receivedAt[i] as number;
    const latency = receipts.latencies[i] as number;
    if (at <= run.endedAt) inWindow += 1;
    if (at <= run.endedAt + SUSTAINED.windowGraceMs) inWindowWithGrace += 1;
    if (at > lastReceipt) lastReceipt = at;
    const publishedAt = at - latency;
    if (publishedAt < run.startedAt + 1000) first.push(latency);
    else if (publishedAt >= run.endedAt - 1000) last.push(latency);
  }
  const latency = summarize(receipts.latencies);
  const firstMedian = median(first);
  const lastMedian = median(last);
  const lagGrowthMs = firstMedian === null || lastMedian === null ? null : round(lastMedian - firstMedian, 1);
  const offeredPerS = run.published / seconds;
  const deliveredPerS = inWindow / seconds;
  const lost = run.published - receipts.unique;

  const why: string[] = [];
  if (offeredPerS < rate * SUSTAINED.minOfferedShare)
    why.push(`publisher reached ${Math.round(offeredPerS)}/s of ${rate}/s`);
  if (inWindowWithGrace < run.published * SUSTAINED.minDeliveredShare)
    why.push(
      `only ${Math.round((inWindowWithGrace / Math.max(1, run.published)) * 100)}% delivered within the window`,
    );
  if (lost > 0) why.push(`${lost} lost`);
  if (receipts.outOfOrder > 0) why.push(`${receipts.outOfOrder} out of order`);
  if (run.errors > 0) why.push(`${run.errors} publish errors`);
  if (latency.p99 !== null && latency.p99 > SUSTAINED.maxP99Ms) why.push(`p99 ${latency.p99} ms`);
  if (lagGrowthMs !== null && lagGrowthMs > SUSTAINED.maxLagGrowthMs)
    why.push(`latency grew ${lagGrowthMs} ms during the step`);

  const result: StepResult = {
    path,
    phase,
    kind,
    targetRate: rate,
    durationMs,
    offeredPerS: Math.round(offeredPerS),
    deliveredPerS: Math.round(deliveredPerS),
    published: run.published,
    skipped: run.skipped,
    publishErrors: run.errors,
    publishErrorSamples: run.errorSamples,
    received: receipts.unique,
    lost,
    duplicates: receipts.duplicates,
    outOfOrder: receipts.outOfOrder,
    acksPerEvent: round(receipts.acksSent / Math.max(1, run.published), 2),
    syncs: receipts.syncsSent,
    loadCpuPct: Math.round(
      usage.processes.filter((p) => p.name.startsWith('load-')).reduce((n, p) => n + p.cpuPct, 0),
    ),
    latency,
    lagGrowthMs,
    drainMs: Number.isFinite(lastReceipt) ? round(Math.max(0, lastReceipt - run.endedAt), 1) : null,
    publishSettleMs: round(run.settledAt - run.endedAt, 1),
    queuedAtEnd,
    redisCommands: redisCommands.top,
    redisUsecPerEvent: redisCommands.totalUsec,
    sustained: why.length === 0,
    notSustainedBecause: why,
    processes: usage.processes,
    machine: usage.machine,
  };
  ctx.log(
    `  ${path.padEnd(7)} ${String(rate).padStart(6)}/s offered ${String(result.offeredPerS).padStart(6)}/s ` +
      `delivered ${String(result.deliveredPerS).padStart(6)}/s p50 ${latency.p50} p99 ${latency.p99} max ${latency.max} ms ` +
      `lost ${lost} dup ${receipts.duplicates} queued ${queuedAtEnd} redis ${result.redisUsecPerEvent} µs/event ` +
      `load cpu ${result.loadCpuPct}%${path === 'herald' ? ` acks/event ${result.acksPerEvent}` : ''} ` +
      // A profile step is slowed by the profiler and judges nothing: say so, not "NOT sustained".
      (kind === 'profile'
        ? '(profiled with --cpu-prof; not part of the search)'
        : `${result.sustained ? 'sustained' : `NOT sustained (${why.join('; ')})`}`),
  );
  // Let a backlog drain (and the machine settle) before the next step.
  await waitForQueuesIdle(ctx, 20_000);
  await sleep(500);
  return result;
}

export interface RedisCommandCost {
  command: string;
  callsPerEvent: number;
  usecPerEvent: number;
}

type CommandStats = Map<string, { calls: number; usec: number }>;

/** Redis's per-command call counts and time since start (`INFO commandstats`). */
async function redisCommandStats(ctx: BenchContext): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  const text = await ctx.redis.info('commandstats');
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** What Redis spent per published event between two readings, by command. */
function perEvent(
  before: CommandStats,
  after: CommandStats,
  events: number,
): { totalUsec: number; top: RedisCommandCost[] } {
  const rows: RedisCommandCost[] = [];
  let total = 0;
  for (const [command, a] of after) {
    const b = before.get(command) ?? { calls: 0, usec: 0 };
    const usec = a.usec - b.usec;
    total += usec;
    if (a.calls === b.calls) continue;
    rows.push({
      command,
      callsPerEvent: round((a.calls - b.calls) / Math.max(1, events), 2),
      usecPerEvent: round(usec / Math.max(1, events), 2),
    });
  }
  rows.sort((x, y) => y.usecPerEvent - x.usecPerEvent);
  return { totalUsec: round(total / Math.max(1, events), 1), top: rows.slice(0, 16) };
}

/** Waiting + active jobs of a BullMQ queue under the run's prefix. */
async function queuedJobs(ctx: BenchContext, queue: string): Promise<number> {
  const [wait, active, prioritized] = await Promise.all([
    ctx.redis.llen(`${ctx.prefix}:${queue}:wait`),
    ctx.redis.llen(`${ctx.prefix}:${queue}:active`),
    ctx.redis.zcard(`${ctx.prefix}:${queue}:prioritized`),
  ]);
  return wait + active + prioritized;
}

/** Waits until neither the events queue nor the naive queue holds waiting or active jobs (bounded). */
export async function waitForQueuesIdle(ctx: BenchContext, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  const keys = ['events', 'naive-events'].flatMap((q) => [
    `${ctx.prefix}:${q}:wait`,
    `${ctx.prefix}:${q}:active`,
    `${ctx.prefix}:${q}:prioritized`,
  ]);
  while (Date.now() < deadline) {
    const pipeline = ctx.redis.pipeline();
    for (const key of keys) {
      if (key.endsWith(':prioritized')) pipeline.zcard(key);
      else pipeline.llen(key);
    }
    const results = (await pipeline.exec()) ?? [];
    if (results.every(([error, n]) => !error && n === 0)) return;
    await sleep(100);
  }
}

export interface PathThroughput {
  path: BenchPath;
  steps: StepResult[];
  /** Highest delivered/s among sustained steps (null when none was sustained). */
  maxSustainedPerS: number | null;
  /** The offered rate of that step. */
  maxSustainedTargetRate: number | null;
}

export interface ThroughputResult {
  paths: PathThroughput[];
  sustainedDefinition: string;
}

/** Warms each path up, runs the fixed rates (interleaved across paths), then searches each path's maximum. */
export async function runThroughput(
  ctx: BenchContext,
  paths: readonly BenchPath[],
): Promise<ThroughputResult> {
  const { scale } = ctx;
  ctx.log(`scenario 1: ${scale.users} users, user-targeted events`);
  for (const path of paths) {
    // JIT, connection pools and scripts warm up outside the measurements.
    await runStep(ctx, path, 500, Math.min(1_000, scale.stepMs), 'fixed');
  }
  const steps = new Map<BenchPath, StepResult[]>(paths.map((p) => [p, []]));
  for (const rate of scale.rates) {
    for (const path of paths) steps.get(path)?.push(await runStep(ctx, path, rate, scale.stepMs, 'fixed'));
  }
  for (const path of paths) {
    const list = steps.get(path) ?? [];
    ctx.log(`  searching ${path}'s maximum sustained rate`);
    await searchMax(ctx, path, list);
  }
  return {
    paths: paths.map((path) => describePath(path, steps.get(path) ?? [])),
    sustainedDefinition: SUSTAINED_DEFINITION,
  };
}

export function describePath(path: BenchPath, steps: StepResult[]): PathThroughput {
  const best = steps.filter((s) => s.sustained).sort((a, b) => b.deliveredPerS - a.deliveredPerS)[0];
  return {
    path,
    steps,
    maxSustainedPerS: best?.deliveredPerS ?? null,
    maxSustainedTargetRate: best?.targetRate ?? null,
  };
}

async function searchMax(ctx: BenchContext, path: BenchPath, steps: StepResult[]): Promise<void> {
  const goodRate = () => Math.max(0, ...steps.filter((s) => s.sustained).map((s) => s.targetRate));
  const badRate = () => Math.min(Infinity, ...steps.filter((s) => !s.sustained).map((s) => s.targetRate));
  for (let i = 0; i < ctx.scale.searchSteps; i++) {
    const good = goodRate();
    const bad = badRate();
    let next: number;
    if (good === 0) next = Math.round(bad / 2);
    else if (!Number.isFinite(bad)) next = Math.round(good * 1.6);
    else if (bad / good <= 1.15) break;
    else next = Math.round(Math.sqrt(good * bad));
    if (next < 100 || next > 100_000) break;
    steps.push(await runStep(ctx, path, next, ctx.scale.searchStepMs, 'search'));
  }
}
