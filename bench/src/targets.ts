import type { FanOutResult } from './scenario-fan-out.js';
import type { IdleMemoryResult } from './scenario-idle-memory.js';
import type { ReconnectResult } from './scenario-reconnect.js';
import {
  LATENCY_BOUND_P99_MS,
  meetsLatencyBound,
  type StepResult,
  type ThroughputResult,
} from './scenario-throughput.js';
import type { SoakResult } from './scenario-soak.js';
import type { BenchPath } from './stack.js';
import { round } from './stats.js';

/** One target, judged on this run. `met` is null when the scenario did not run. */
export interface TargetResult {
  id:
    | 'throughput'
    | 'latency-bound-ratio'
    | 'p99-ratio-2000'
    | 'p99-ratio-500'
    | 'fan-out-p99-ratio'
    | 'soak-redis-growth'
    | 'cluster-master-cpu-spread'
    | 'latency-2000'
    | 'fan-out'
    | 'idle-heap'
    | 'reconnect-storm';
  /** Where the target comes from: the hot-path issue (ratios to the ceiling, same run) or issue 5. */
  source: 'hot path' | 'issue 5';
  target: string;
  measured: string;
  met: boolean | null;
  /** The same figure for the ceiling (or the bare-ws baseline), for comparison. */
  reference: string | null;
}

export interface BenchOutcome {
  throughput?: ThroughputResult;
  fanOut?: FanOutResult;
  idleMemory?: IdleMemoryResult;
  reconnect?: ReconnectResult;
  soak?: SoakResult;
}

/** The hot-path issue's targets, each a ratio (or a slope) from one run. */
export const HOT_PATH_TARGETS = {
  ratioToCeiling: 0.7,
  latencyBoundRatio: 0.6,
  p99RatioAt2000: 1.5,
  p99RatioAt500: 1.5,
  fanoutP99Ratio: 1.5,
  soakRedisGrowthMbPerMin: 1,
  clusterMasterCpuSpread: 0.35,
} as const;

/** The top-level figures of a run (the results JSON and the headline of every report). */
export interface HeadlineFigures {
  /** Herald's maximum sustained delivered/s ÷ the ceiling's. */
  ratioToCeiling: number | null;
  /** The same, counting only steps with p99 ≤ 50 ms and nothing lost (0: no Herald step met that bar). */
  latencyBoundRatio: number | null;
  /** Herald's p99 at 2,000/s ÷ the ceiling's (the fixed steps, medians of their trials). */
  p99RatioAt2000: number | null;
  p99RatioAt500: number | null;
  /** Herald's worst fan-out run's p99 ÷ the ceiling's worst. */
  fanoutP99Ratio: number | null;
  /** Redis CPU µs per event at 2,000/s (INFO cpu deltas, median of the trials), per path. */
  redisUsPerEvent: Partial<Record<BenchPath, number | null>>;
  /** Slope of Redis `used_memory` during the soak once the inboxes were full, MiB per minute. */
  soakRedisGrowthMbPerMin: number | null;
  /**
   * `--redis cluster`: max |master − mean| ÷ mean of the masters' Redis CPU at Herald's highest
   * sustained step (at its 2,000/s step when none was sustained); null on one Redis.
   */
  clusterMasterCpuSpread: number | null;
}

/** The step `clusterMasterCpuSpread` is taken at, and its masters' CPU (null on one Redis). */
export function clusterSpreadStep(
  throughput: ThroughputResult | undefined,
): { step: StepResult; at: string; spread: number } | null {
  const herald = pathOf(throughput, 'herald');
  const perMaster = (s: StepResult) => (s.redisCpuPerMaster?.length ?? 0) > 1;
  const sustained = (herald?.steps ?? [])
    .filter((s) => s.sustained && perMaster(s))
    .sort((a, b) => b.deliveredPerS - a.deliveredPerS)[0];
  const fixed = fixedStep(throughput, 'herald', 2_000);
  const step = sustained ?? (fixed && perMaster(fixed) ? fixed : undefined);
  if (!step?.redisCpuPerMaster) return null;
  const cpu = step.redisCpuPerMaster.map((m) => m.usPerEvent);
  const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  if (mean <= 0) return null;
  const spread = round(Math.max(...cpu.map((c) => Math.abs(c - mean))) / mean, 3);
  const at = sustained
    ? `Herald's highest sustained step (${step.targetRate.toLocaleString('en-US')}/s offered)`
    : "Herald's 2,000/s step (no step sustained)";
  return { step, at, spread };
}

const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 3): number | null =>
  a === null || a === undefined || !b ? null : round(a / b, digits);

function pathOf(throughput: ThroughputResult | undefined, path: BenchPath) {
  return throughput?.paths.find((p) => p.path === path);
}

/** Highest delivered/s of a path's steps under the latency bar (from the steps, so older runs' JSON works too). */
function latencyBoundMax(throughput: ThroughputResult | undefined, path: BenchPath): number | null {
  const rates = (pathOf(throughput, path)?.steps ?? []).filter(meetsLatencyBound).map((s) => s.deliveredPerS);
  return rates.length > 0 ? Math.max(...rates) : null;
}

function fixedStep(throughput: ThroughputResult | undefined, path: BenchPath, rate: number) {
  return pathOf(throughput, path)?.steps.find((s) => s.kind === 'fixed' && s.targetRate === rate);
}

export function headlineFigures(outcome: BenchOutcome): HeadlineFigures {
  const { throughput, fanOut, soak } = outcome;
  const p99Ratio = (rate: number) =>
    ratio(
      fixedStep(throughput, 'herald', rate)?.latency.p99,
      fixedStep(throughput, 'ceiling', rate)?.latency.p99,
      2,
    );
  const fan = (path: BenchPath) => fanOut?.paths.find((p) => p.path === path)?.worstP99Ms;
  const redisUsPerEvent: HeadlineFigures['redisUsPerEvent'] = {};
  for (const p of throughput?.paths ?? []) {
    redisUsPerEvent[p.path] = fixedStep(throughput, p.path, 2_000)?.redisCpuUsPerEvent ?? null;
  }
  return {
    ratioToCeiling: ratioToCeiling(throughput),
    // 0 when Herald ran steps but none met the bar (its rate under the bar is below every rate tried).
    latencyBoundRatio: ratio(
      latencyBoundMax(throughput, 'herald') ?? (pathOf(throughput, 'herald')?.steps.length ? 0 : null),
      latencyBoundMax(throughput, 'ceiling'),
    ),
    p99RatioAt2000: p99Ratio(2_000),
    p99RatioAt500: p99Ratio(500),
    fanoutP99Ratio: ratio(fan('herald'), fan('ceiling'), 2),
    redisUsPerEvent,
    soakRedisGrowthMbPerMin: soak?.redisGrowthMbPerMin ?? null,
    clusterMasterCpuSpread: clusterSpreadStep(throughput)?.spread ?? null,
  };
}

/** Herald's maximum sustained delivered/s divided by the ceiling's, from the same run. */
export function ratioToCeiling(throughput: ThroughputResult | undefined): number | null {
  const herald = throughput?.paths.find((p) => p.path === 'herald')?.maxSustainedPerS;
  const ceiling = throughput?.paths.find((p) => p.path === 'ceiling')?.maxSustainedPerS;
  if (!herald || !ceiling) return null;
  return round(herald / ceiling, 3);
}

const TARGET_RATE = 2_000;

export function judgeTargets(outcome: BenchOutcome): TargetResult[] {
  const targets: TargetResult[] = [];
  const { throughput, fanOut, idleMemory, reconnect } = outcome;

  const h = headlineFigures(outcome);
  const max = (path: BenchPath) => pathOf(throughput, path)?.maxSustainedPerS ?? null;
  const bounded = (path: BenchPath) => latencyBoundMax(throughput, path);
  const atMost = (value: number | null, limit: number) => (value === null ? null : value <= limit);
  const atLeast = (value: number | null, limit: number) => (value === null ? null : value >= limit);
  const T = HOT_PATH_TARGETS;
  targets.push({
    id: 'throughput',
    source: 'hot path',
    target: `ratioToCeiling ≥ ${T.ratioToCeiling}: Herald's maximum sustained throughput ÷ the ceiling's (same run; issue 5 asked 0.55)`,
    measured:
      h.ratioToCeiling === null
        ? 'not measured'
        : `${h.ratioToCeiling} (${max('herald')}/s of ${max('ceiling')}/s; naive ${max('naive') ?? 'n/a'}/s)`,
    met: atLeast(h.ratioToCeiling, T.ratioToCeiling),
    reference: max('ceiling') === null ? null : `ceiling ${max('ceiling')}/s`,
  });
  targets.push({
    id: 'latency-bound-ratio',
    source: 'hot path',
    target: `latencyBoundRatio ≥ ${T.latencyBoundRatio}: the same with p99 ≤ ${LATENCY_BOUND_P99_MS} ms and 0 lost`,
    measured:
      h.latencyBoundRatio === null
        ? throughput
          ? `n/a (Herald ${bounded('herald') ?? 'none'}/s, ceiling ${bounded('ceiling') ?? 'none'}/s under the bar)`
          : 'not measured'
        : bounded('herald') === null
          ? `0 (no Herald step met the bar; ceiling ${bounded('ceiling')}/s)`
          : `${h.latencyBoundRatio} (${bounded('herald')}/s of ${bounded('ceiling')}/s)`,
    met: atLeast(h.latencyBoundRatio, T.latencyBoundRatio),
    reference: null,
  });
  for (const [rate, value, id] of [
    [2_000, h.p99RatioAt2000, 'p99-ratio-2000'],
    [500, h.p99RatioAt500, 'p99-ratio-500'],
  ] as const) {
    const herald = fixedStep(throughput, 'herald', rate);
    const ceiling = fixedStep(throughput, 'ceiling', rate);
    targets.push({
      id,
      source: 'hot path',
      target: `p99RatioAt${rate} ≤ ${T.p99RatioAt2000}: Herald's p99 at ${rate.toLocaleString('en-US')}/s ÷ the ceiling's`,
      measured:
        value === null
          ? 'not measured'
          : `${value} (${herald?.latency.p99} ms ÷ ${ceiling?.latency.p99} ms; Herald lost ${herald?.lost ?? 'n/a'})`,
      met: atMost(value, rate === 2_000 ? T.p99RatioAt2000 : T.p99RatioAt500),
      reference: null,
    });
  }
  const fanHerald = fanOut?.paths.find((p) => p.path === 'herald');
  const fanCeiling = fanOut?.paths.find((p) => p.path === 'ceiling');
  targets.push({
    id: 'fan-out-p99-ratio',
    source: 'hot path',
    target: `fanoutP99Ratio ≤ ${T.fanoutP99Ratio}: Herald's worst fan-out p99 ÷ the ceiling's worst`,
    measured:
      h.fanoutP99Ratio === null
        ? 'not measured'
        : `${h.fanoutP99Ratio} (${fanHerald?.worstP99Ms} ms ÷ ${fanCeiling?.worstP99Ms} ms)`,
    met: atMost(h.fanoutP99Ratio, T.fanoutP99Ratio),
    reference: null,
  });
  const soak = outcome.soak;
  targets.push({
    id: 'soak-redis-growth',
    source: 'hot path',
    target: `soakRedisGrowthMbPerMin ≤ ${T.soakRedisGrowthMbPerMin}: Redis used_memory growth once the inboxes are full, 0 lost, every expected email`,
    measured: soak
      ? `${soak.redisGrowthMbPerMin ?? 'n/a'} MiB/min over ${soak.regressionMinutes ?? 'n/a'} min ` +
        `(${soak.fillPoint.note}); ${soak.lost} lost; emails ${soak.emails.sent} of ${soak.emails.expected} expected`
      : 'not measured (pnpm bench --scenario soak)',
    met: soak
      ? soak.redisGrowthMbPerMin !== null &&
        soak.redisGrowthMbPerMin <= T.soakRedisGrowthMbPerMin &&
        soak.lost === 0 &&
        soak.emails.sent === soak.emails.expected &&
        soak.emails.unexpected === 0
      : null,
    reference: soak ? `${soak.minutes} min at ${soak.ratePerS}/s` : null,
  });

  const spread = clusterSpreadStep(throughput);
  const pct = Math.round(T.clusterMasterCpuSpread * 100);
  targets.push({
    id: 'cluster-master-cpu-spread',
    source: 'hot path',
    target: `Redis CPU per master on the cluster run: every master within ±${pct}% of the mean (clusterMasterCpuSpread ≤ ${T.clusterMasterCpuSpread})`,
    measured: spread
      ? `${spread.spread} at ${spread.at}: ` +
        (spread.step.redisCpuPerMaster ?? [])
          .map((m) => `${m.node} ${m.usPerEvent} µs/event (${m.cpuPct}% of a core)`)
          .join(', ')
      : "not measured (Herald's throughput steps on pnpm bench --redis cluster)",
    met: spread ? spread.spread <= T.clusterMasterCpuSpread : null,
    reference: null,
  });

  const at = (path: string) =>
    throughput?.paths
      .find((p) => p.path === path)
      ?.steps.find((s) => s.kind === 'fixed' && s.targetRate === TARGET_RATE);
  const herald2k = at('herald');
  const ceiling2k = at('ceiling');
  targets.push({
    id: 'latency-2000',
    source: 'issue 5',
    target: 'At 2,000 events/s: p99 ≤ 12 ms, 0 lost',
    measured: herald2k ? `p99 ${herald2k.latency.p99} ms, ${herald2k.lost} lost` : 'not measured',
    met: herald2k ? herald2k.latency.p99 !== null && herald2k.latency.p99 <= 12 && herald2k.lost === 0 : null,
    reference: ceiling2k
      ? `ceiling p99 ${ceiling2k.latency.p99} ms; naive p99 ${at('naive')?.latency.p99 ?? 'n/a'} ms`
      : null,
  });

  const heraldFan = fanOut?.paths.find((p) => p.path === 'herald');
  const ceilingFan = fanOut?.paths.find((p) => p.path === 'ceiling');
  targets.push({
    id: 'fan-out',
    source: 'issue 5',
    target: `${(fanOut?.recipients ?? 10_000).toLocaleString('en-US')}-user fan-out: every online recipient within 250 ms (p99)`,
    measured: heraldFan
      ? `worst run p99 ${heraldFan.worstP99Ms} ms, max ${heraldFan.worstMaxMs} ms, ${heraldFan.lost} lost`
      : 'not measured',
    met: heraldFan
      ? heraldFan.worstP99Ms !== null && heraldFan.worstP99Ms <= 250 && heraldFan.lost === 0
      : null,
    reference: ceilingFan ? `ceiling p99 ${ceilingFan.worstP99Ms} ms` : null,
  });

  const node = idleMemory?.herald[0];
  const ws = idleMemory?.baselines.find((b) => b.name === 'bare ws server');
  const sio = idleMemory?.baselines.find((b) => b.name === 'Socket.IO, default config');
  const lean = idleMemory?.baselines.find((b) => b.name === 'Socket.IO, handshake dropped after connect');
  targets.push({
    id: 'idle-heap',
    source: 'issue 5',
    target: `≤ 8 KiB of heap per idle connection (after gc, ${(node?.slopeBetween ?? [2_000, 6_000]).map((n) => n.toLocaleString('en-US')).join(' → ')} connections)`,
    measured: node
      ? `${node.heapKiBPerConnection} KiB (RSS ${node.rssKiBPerConnection} KiB)`
      : 'not measured',
    met: node?.heapKiBPerConnection == null ? null : node.heapKiBPerConnection <= 8,
    reference:
      ws || sio
        ? `bare ws ${ws?.heapKiBPerConnection ?? 'n/a'} KiB; default Socket.IO ${sio?.heapKiBPerConnection ?? 'n/a'} KiB; ` +
          `Socket.IO dropping the handshake ${lean?.heapKiBPerConnection ?? 'n/a'} KiB`
        : null,
  });

  targets.push({
    id: 'reconnect-storm',
    source: 'issue 5',
    target: `Reconnect storm: all ${(reconnect?.devices ?? 2_000).toLocaleString('en-US')} caught up within 5 s, 0 lost`,
    measured: reconnect
      ? `all caught up in ${reconnect.allCaughtUpMs ?? 'n/a'} ms (per device p50 ${reconnect.catchUp?.p50 ?? 'n/a'}, ` +
        `p99 ${reconnect.catchUp?.p99 ?? 'n/a'} ms); ${reconnect.lost} of ${reconnect.missedEvents} missed events lost, ` +
        `${reconnect.duplicates ?? 'n/a'} duplicates, ${reconnect.outOfOrder ?? 'n/a'} out of order; ` +
        `all reconnected in ${reconnect.allReconnectedMs ?? 'n/a'} ms`
      : 'not measured',
    met: reconnect
      ? reconnect.allCaughtUpMs !== null && reconnect.allCaughtUpMs <= 5_000 && reconnect.lost === 0
      : null,
    reference: null,
  });
  return targets;
}
