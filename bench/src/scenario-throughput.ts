/**
 * Scenario 1: user-targeted events to the connected users at fixed rates (500/s,
 * 2,000/s), then a search for each path's maximum sustained rate.
 */
import { sleep, type BenchContext } from './context.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import type { BenchPath } from './stack.js';
import { round, summarize, type LatencySummary } from './stats.js';
import { addTally, emptyTally, type FallbackTally } from './fallback-audit.js';
import { redisCommandStats, redisCpuMicrosPerMaster, type CommandStats } from './redis-target.js';
import { DISPATCHERS_GROUP, createKeys, readStreamBacklog } from '@herald/core';

/** Trials each step runs by default; the step reports their median (see `aggregateTrials`). */
export const TRIALS_PER_STEP = 3;

/** The latency bar of `latencyBoundRatio`: a sustained step with p99 at most this and nothing lost. */
export const LATENCY_BOUND_P99_MS = 50;

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
  `a trial is sustained when the publisher issued ≥ ${SUSTAINED.minOfferedShare * 100}% of the offered rate on time, ` +
  `deliveries inside the publishing window (+${SUSTAINED.windowGraceMs} ms) were ≥ ${SUSTAINED.minDeliveredShare * 100}% ` +
  `of the events published, ` +
  `nothing was lost or out of seq order, p99 ≤ ${SUSTAINED.maxP99Ms} ms, and the median latency of events published in the last second ` +
  `was at most ${SUSTAINED.maxLagGrowthMs} ms above the first second's (no growing backlog). ` +
  `That is judged per trial; a step of several trials is sustained when most of its trials are and none lost an event. ` +
  `The maximum sustained rate is the highest delivered/s (median of the trials) of a sustained step; the search multiplies ` +
  `the offered rate by 1.6 from the best sustained rate until a step is not sustained, then bisects (geometric mean) ` +
  `between the best sustained rate and the lowest unsustained one above it while they are more than 15% apart. ` +
  `The rate under the latency bar is searched the same way, with p99 ≤ ${LATENCY_BOUND_P99_MS} ms and nothing lost added.`;

/** What one trial of a step measured: `rate` events/s for `durationMs`. */
export interface TrialResult {
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
  /**
   * What was still to deliver once every publish had resolved (consumer-side backlog): naive,
   * jobs waiting or active; Herald, stream entries unread or unacknowledged by the dispatchers.
   */
  queuedAtEnd: number;
  /** Redis time per published event by command (INFO commandstats before and after the step), largest first. */
  redisCommands: RedisCommandCost[];
  /** Redis time per published event, all commands (µs, INFO commandstats: overstates scripts, see the report). */
  redisUsecPerEvent: number;
  /**
   * Redis CPU per published event (µs): `used_cpu_user + used_cpu_sys` of INFO cpu, from
   * before the step until every event was delivered. Everything Redis did meanwhile counts:
   * commands, networking, pub/sub fan-out, and the fallback checks of earlier steps that
   * came due (as they would in production).
   */
  redisCpuUsPerEvent: number;
  /**
   * `--redis cluster`: each master's share of `redisCpuUsPerEvent` (µs per published event) and
   * its CPU over the same interval as % of one core, in `host:port` order. Absent on one Redis.
   */
  redisCpuPerMaster?: MasterCpu[];
  sustained: boolean;
  /** Why the step is not sustained (empty when it is). */
  notSustainedBecause: string[];
  processes: ProcessUsage[];
  machine: MachineUsage;
  /** Herald: what the email fallback did for this trial's events (filled once their checks ran). */
  fallback?: FallbackTally;
}

/** One master's Redis CPU during a trial (or the median of a step's trials). */
export interface MasterCpu {
  node: string;
  usPerEvent: number;
  /** CPU over the interval from before the trial until its events were delivered, % of one core. */
  cpuPct: number;
}

/**
 * One step: `trials` trials at the same rate, back to back. Each figure is the median of
 * the trials' figures, taken on its own (so p50 and p99 may come from different trials);
 * counts of events (published, received, lost, duplicates, out of order, syncs) are the
 * trials' sums. A step is sustained when most of its trials are and none lost an event.
 */
export interface StepResult extends TrialResult {
  trials: TrialResult[];
}

let stepCounter = 0;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** The median of numbers that may be missing (null when all are). */
function medianOf(values: Array<number | null>): number | null {
  return median(values.filter((v): v is number => v !== null));
}

/** Runs one step: `trials` trials of `rate` events/s for `durationMs` each, aggregated. */
export async function runStep(
  ctx: BenchContext,
  path: BenchPath,
  rate: number,
  durationMs: number,
  kind: StepResult['kind'],
  trials = kind === 'profile' ? 1 : ctx.trials,
): Promise<StepResult> {
  const results: TrialResult[] = [];
  for (let t = 0; t < trials; t++) {
    results.push(await runTrial(ctx, path, rate, durationMs, kind, trials > 1 ? `${t + 1}/${trials}` : ''));
  }
  const step = aggregateTrials(results);
  if (trials > 1) {
    ctx.log(
      `  ${path.padEnd(7)} ${String(rate).padStart(6)}/s median of ${trials}: delivered ${step.deliveredPerS}/s ` +
        `p50 ${step.latency.p50} p99 ${step.latency.p99} ms lost ${step.lost} redis cpu ${step.redisCpuUsPerEvent} µs/event ` +
        (step.redisCpuPerMaster
          ? `(per master ${step.redisCpuPerMaster.map((m) => `${m.usPerEvent} µs ${m.cpuPct}%`).join(' / ')}) `
          : '') +
        (kind === 'profile'
          ? ''
          : step.sustained
            ? 'sustained'
            : `NOT sustained (${step.notSustainedBecause.join('; ')})`),
    );
  }
  return step;
}

/** Median figures of a step's trials (see `StepResult`). */
export function aggregateTrials(trials: readonly TrialResult[]): StepResult {
  const first = trials[0];
  if (!first) throw new Error('a step needs at least one trial');
  const med = (pick: (t: TrialResult) => number | null) => medianOf(trials.map(pick));
  const sum = (pick: (t: TrialResult) => number) => trials.reduce((n, t) => n + pick(t), 0);
  const lost = sum((t) => t.lost);
  const sustainedTrials = trials.filter((t) => t.sustained).length;
  const why: string[] = [];
  if (sustainedTrials * 2 <= trials.length) {
    why.push(
      `${trials.length - sustainedTrials} of ${trials.length} trials not sustained: ` +
        trials
          .filter((t) => !t.sustained)
          .map((t) => t.notSustainedBecause.join(', '))
          .join(' / '),
    );
  } else if (lost > 0) why.push(`${lost} lost over the trials`);
  // The commands and CPU rows of the trial whose delivered rate is the median one.
  const byDelivered = [...trials].sort((a, b) => a.deliveredPerS - b.deliveredPerS);
  const middle = byDelivered[Math.floor(byDelivered.length / 2)] as TrialResult;
  const names = [...new Set(trials.flatMap((t) => t.processes.map((p) => p.name)))];
  const processes: ProcessUsage[] = names.map((name) => {
    const rows = trials.flatMap((t) => t.processes.filter((p) => p.name === name));
    return {
      name,
      pid: rows[0]?.pid ?? 0,
      cpuPct: medianOf(rows.map((r) => r.cpuPct)) ?? 0,
      rssMaxMiB: Math.max(...rows.map((r) => r.rssMaxMiB)),
    };
  });
  const machine: MachineUsage = {
    cores: first.machine.cores,
    busyPct: med((t) => t.machine.busyPct) ?? 0,
    benchPct: med((t) => t.machine.benchPct) ?? 0,
    otherPct: med((t) => t.machine.otherPct) ?? 0,
  };
  const latency: LatencySummary = {
    n: sum((t) => t.latency.n),
    p50: med((t) => t.latency.p50),
    p95: med((t) => t.latency.p95),
    p99: med((t) => t.latency.p99),
    max: med((t) => t.latency.max),
    mean: med((t) => t.latency.mean),
  };
  const fallbacks = trials.map((t) => t.fallback).filter((f): f is FallbackTally => f !== undefined);
  const masterNames = [
    ...new Set(trials.flatMap((t) => (t.redisCpuPerMaster ?? []).map((m) => m.node))),
  ].sort();
  const redisCpuPerMaster = masterNames.map((node) => {
    const rows = trials.flatMap((t) => (t.redisCpuPerMaster ?? []).filter((m) => m.node === node));
    return {
      node,
      usPerEvent: medianOf(rows.map((m) => m.usPerEvent)) ?? 0,
      cpuPct: medianOf(rows.map((m) => m.cpuPct)) ?? 0,
    };
  });
  return {
    path: first.path,
    phase: trials.map((t) => t.phase).join(','),
    kind: first.kind,
    targetRate: first.targetRate,
    durationMs: first.durationMs,
    offeredPerS: med((t) => t.offeredPerS) ?? 0,
    deliveredPerS: med((t) => t.deliveredPerS) ?? 0,
    published: sum((t) => t.published),
    skipped: sum((t) => t.skipped),
    publishErrors: sum((t) => t.publishErrors),
    publishErrorSamples: [...new Set(trials.flatMap((t) => t.publishErrorSamples))].slice(0, 5),
    received: sum((t) => t.received),
    lost,
    duplicates: sum((t) => t.duplicates),
    outOfOrder: sum((t) => t.outOfOrder),
    acksPerEvent: med((t) => t.acksPerEvent) ?? 0,
    syncs: sum((t) => t.syncs),
    loadCpuPct: med((t) => t.loadCpuPct) ?? 0,
    latency,
    lagGrowthMs: med((t) => t.lagGrowthMs),
    drainMs: med((t) => t.drainMs),
    publishSettleMs: med((t) => t.publishSettleMs) ?? 0,
    queuedAtEnd: med((t) => t.queuedAtEnd) ?? 0,
    redisCommands: middle.redisCommands,
    redisUsecPerEvent: med((t) => t.redisUsecPerEvent) ?? 0,
    redisCpuUsPerEvent: med((t) => t.redisCpuUsPerEvent) ?? 0,
    ...(redisCpuPerMaster.length > 0 ? { redisCpuPerMaster } : {}),
    sustained: why.length === 0,
    notSustainedBecause: why,
    processes,
    machine,
    ...(fallbacks.length > 0 ? { fallback: fallbacks.reduce(addTally, emptyTally()) } : {}),
    trials: [...trials],
  };
}

/** Runs one trial: `rate` events/s for `durationMs` on `path`, then waits for delivery and judges it. */
async function runTrial(
  ctx: BenchContext,
  path: BenchPath,
  rate: number,
  durationMs: number,
  kind: TrialResult['kind'],
  label: string,
): Promise<TrialResult> {
  const phase = `${path}-${rate}-${++stepCounter}`;
  await trackPhase(ctx, phase);
  const statsBefore = await redisCommandStats(ctx.redis);
  const cpuBefore = await redisCpuMicrosPerMaster(ctx.redis);
  const cpuBeforeAt = performance.now();
  ctx.sampler.sampleNow();
  const run = await ctx.stack
    .publisher(path)
    .call('run', { phase, rate, durationMs, userIds: ctx.onlineUsers }, durationMs + 120_000);
  ctx.sampler.sampleNow();
  // Where a backlog sits when publishing ends: jobs still queued (the consumer is behind).
  const queuedAtEnd =
    path === 'ceiling' ? 0 : path === 'naive' ? await naiveQueued(ctx) : await heraldQueued(ctx);
  const usage = ctx.sampler.usage(Math.floor(run.startedAt), Math.ceil(run.endedAt) + 1);
  await waitForReceipts(ctx, phase, run.published, { stallMs: 2_000, maxMs: 30_000 });
  // After delivery, so the commands of every published event are counted (and a few of the bench's own).
  const redisCommands = perEvent(statsBefore, await redisCommandStats(ctx.redis), run.published);
  const cpuAfter = await redisCpuMicrosPerMaster(ctx.redis);
  const cpuWindowUs = (performance.now() - cpuBeforeAt) * 1_000;
  const masters = [...cpuAfter].map(([node, us]) => ({ node, us: us - (cpuBefore.get(node) ?? us) }));
  const redisCpuUsPerEvent = round(masters.reduce((n, m) => n + m.us, 0) / Math.max(1, run.published), 1);
  const redisCpuPerMaster: MasterCpu[] = masters
    .map((m) => ({
      node: m.node,
      usPerEvent: round(m.us / Math.max(1, run.published), 1),
      cpuPct: round((m.us / Math.max(1, cpuWindowUs)) * 100, 1),
    }))
    .sort((a, b) => a.node.localeCompare(b.node));
  const receipts = await collect(ctx, phase);
  if (path === 'herald') ctx.audit.register(phase, run.published, receipts, run.endedAt);
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

  const result: TrialResult = {
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
    redisCpuUsPerEvent,
    ...(redisCpuPerMaster.length > 1 ? { redisCpuPerMaster } : {}),
    sustained: why.length === 0,
    notSustainedBecause: why,
    processes: usage.processes,
    machine: usage.machine,
  };
  ctx.log(
    `  ${path.padEnd(7)} ${String(rate).padStart(6)}/s ${label ? `trial ${label} ` : ''}offered ${String(result.offeredPerS).padStart(6)}/s ` +
      `delivered ${String(result.deliveredPerS).padStart(6)}/s p50 ${latency.p50} p99 ${latency.p99} max ${latency.max} ms ` +
      `lost ${lost} dup ${receipts.duplicates} queued ${queuedAtEnd} redis ${result.redisUsecPerEvent} µs/event ` +
      `(cpu ${redisCpuUsPerEvent}${
        redisCpuPerMaster.length > 1
          ? `; per master ${redisCpuPerMaster.map((m) => `${m.usPerEvent} µs ${m.cpuPct}%`).join(' / ')}`
          : ''
      }) ` +
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

/** Waiting + active jobs of the naive pipeline's BullMQ queue. */
async function naiveQueued(ctx: BenchContext): Promise<number> {
  const queue = `${ctx.prefix}:naive-events`;
  const [wait, active, prioritized] = await Promise.all([
    ctx.redis.llen(`${queue}:wait`),
    ctx.redis.llen(`${queue}:active`),
    ctx.redis.zcard(`${queue}:prioritized`),
  ]);
  return wait + active + prioritized;
}

/**
 * Herald's events not yet delivered: over every partition stream, the entries the dispatchers'
 * group has not read (`lag`) plus those read and not yet acknowledged (`pending`).
 */
async function heraldQueued(ctx: BenchContext): Promise<number> {
  const keys = createKeys(ctx.prefix);
  const counts = await Promise.all(
    keys.partitionNumbers.map(async (partition) => {
      const groups = (await ctx.redis.xinfo('GROUPS', keys.stream(partition)).catch(() => [])) as unknown[][];
      for (const fields of groups) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]);
        if (info.get('name') === DISPATCHERS_GROUP)
          return Number(info.get('lag') ?? 0) + Number(info.get('pending') ?? 0);
      }
      return 0;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Waits until Herald's streams are settled and the naive queue holds no waiting or active jobs (bounded). */
export async function waitForQueuesIdle(ctx: BenchContext, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  const keys = createKeys(ctx.prefix);
  while (Date.now() < deadline) {
    const [backlog, naive] = await Promise.all([readStreamBacklog(ctx.redis, keys), naiveQueued(ctx)]);
    if (backlog.settled && naive === 0) return;
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
  /** Highest delivered/s among sustained steps with p99 ≤ LATENCY_BOUND_P99_MS and nothing lost. */
  maxLatencyBoundPerS: number | null;
  maxLatencyBoundTargetRate: number | null;
}

export interface ThroughputResult {
  paths: PathThroughput[];
  sustainedDefinition: string;
  /** Trials per step (each step's figures are their medians). */
  trialsPerStep: number;
  /** The email fallback during the scenario (Herald's events; devices ack). */
  fallback?: ThroughputFallback;
}

export interface ThroughputFallback {
  ackTimeoutMs: number;
  ackDelayMs: number;
  /** An event handled at most this long after its publish was acked before its check. */
  ackedWithinMs: number;
  /** All Herald steps of the scenario together (warm-up and profile steps not included). */
  tally: FallbackTally;
}

/** Whether a step meets the latency bar of `latencyBoundRatio`. */
export function meetsLatencyBound(step: StepResult): boolean {
  return (
    step.sustained && step.lost === 0 && step.latency.p99 !== null && step.latency.p99 <= LATENCY_BOUND_P99_MS
  );
}

/**
 * Warms each path up, runs the fixed rates (interleaved across paths), then searches each
 * path's maximum sustained rate and its maximum under the latency bar. Herald's fallback
 * checks come due `ackTimeoutMs` after its events: before another path's step follows a
 * Herald step, the bench waits for them (`audit.settle`), so no path pays for Herald's checks,
 * while Herald's own later trials do (its trials run back to back).
 */
export async function runThroughput(
  ctx: BenchContext,
  paths: readonly BenchPath[],
): Promise<ThroughputResult> {
  const { scale } = ctx;
  ctx.log(
    `scenario 1: ${scale.users} users, user-targeted events, ${ctx.trials} trial(s) per step; ` +
      `Herald's fallback checks after ${ctx.audit.ackTimeoutMs} ms, devices ack within ${ctx.audit.ackDelayMs} ms`,
  );
  let previous: BenchPath | undefined;
  /** Before a step of `path`: Herald's checks settle if the previous step was Herald's and this one is not. */
  const switchTo = async (path: BenchPath) => {
    if (previous === 'herald' && path !== 'herald' && ctx.audit.pending) {
      ctx.log(`  waiting for Herald's fallback checks to run before ${path}'s step`);
      await ctx.audit.settle(ctx);
    }
    previous = path;
  };
  for (const path of paths) {
    await switchTo(path);
    // JIT, connection pools and scripts warm up outside the measurements.
    await runStep(ctx, path, 500, Math.min(1_000, scale.stepMs), 'fixed', 1);
  }
  const steps = new Map<BenchPath, StepResult[]>(paths.map((p) => [p, []]));
  for (const rate of scale.rates) {
    for (const path of paths) {
      await switchTo(path);
      steps.get(path)?.push(await runStep(ctx, path, rate, scale.stepMs, 'fixed'));
    }
  }
  for (const path of paths) {
    await switchTo(path);
    const list = steps.get(path) ?? [];
    ctx.log(`  searching ${path}'s maximum sustained rate`);
    await searchMax(ctx, path, list, (s) => s.sustained);
    ctx.log(`  searching ${path}'s maximum rate with p99 ≤ ${LATENCY_BOUND_P99_MS} ms`);
    await searchMax(ctx, path, list, meetsLatencyBound);
  }
  await ctx.audit.settle(ctx);
  const described = paths.map((path) => describePath(path, steps.get(path) ?? []));
  const herald = described.find((p) => p.path === 'herald');
  let fallback: ThroughputFallback | undefined;
  if (herald) {
    const tally = emptyTally();
    for (const step of herald.steps) {
      for (const trial of step.trials) {
        trial.fallback = ctx.audit.tally(trial.phase);
        addTally(tally, trial.fallback);
      }
      step.fallback = step.trials.map((t) => t.fallback ?? emptyTally()).reduce(addTally, emptyTally());
    }
    fallback = {
      ackTimeoutMs: ctx.audit.ackTimeoutMs,
      ackDelayMs: ctx.audit.ackDelayMs,
      ackedWithinMs: ctx.audit.ackedWithinMs,
      tally,
    };
    ctx.log(
      `  fallback: ${tally.emails} emails for Herald's events (${tally.emailsForAckedEvents} for events acked in time, ` +
        `must be 0; ${tally.lostEmailed} of ${tally.lost} lost and ${tally.lateEmailed} of ${tally.late} late events emailed; ` +
        `${tally.duplicateEmails} duplicates)`,
    );
  }
  return {
    paths: described,
    sustainedDefinition: SUSTAINED_DEFINITION,
    trialsPerStep: ctx.trials,
    ...(fallback ? { fallback } : {}),
  };
}

export function describePath(path: BenchPath, steps: StepResult[]): PathThroughput {
  const best = (ok: (s: StepResult) => boolean) =>
    steps.filter(ok).sort((a, b) => b.deliveredPerS - a.deliveredPerS)[0];
  const sustained = best((s) => s.sustained);
  const bounded = best(meetsLatencyBound);
  return {
    path,
    steps,
    maxSustainedPerS: sustained?.deliveredPerS ?? null,
    maxSustainedTargetRate: sustained?.targetRate ?? null,
    maxLatencyBoundPerS: bounded?.deliveredPerS ?? null,
    maxLatencyBoundTargetRate: bounded?.targetRate ?? null,
  };
}

/**
 * Searches the highest offered rate whose step passes `ok`, among the steps already run
 * and new ones: ×1.6 from the best passing rate until one fails, then geometric bisection
 * between the best passing rate and the lowest failing rate above it, while they are more
 * than 15% apart. At most `searchSteps` new steps.
 */
async function searchMax(
  ctx: BenchContext,
  path: BenchPath,
  steps: StepResult[],
  ok: (step: StepResult) => boolean,
): Promise<void> {
  for (let i = 0; i < ctx.scale.searchSteps; i++) {
    const good = Math.max(0, ...steps.filter(ok).map((s) => s.targetRate));
    const bad = Math.min(
      Infinity,
      ...steps.filter((s) => !ok(s) && s.targetRate > good).map((s) => s.targetRate),
    );
    let next: number;
    if (good === 0) next = Math.round(bad / 2);
    else if (!Number.isFinite(bad)) next = Math.round(good * 1.6);
    else if (bad / good <= 1.15) break;
    else next = Math.round(Math.sqrt(good * bad));
    if (next < 100 || next > 100_000) break;
    steps.push(await runStep(ctx, path, next, ctx.scale.searchStepMs, 'search'));
  }
}
