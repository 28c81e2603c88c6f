import { parseArgs } from 'node:util';
import { PATHS, type BenchPath } from './stack.js';
import { TRIALS_PER_STEP } from './scenario-throughput.js';
import { REDIS_TARGET_KINDS, type RedisTargetKind } from './redis-target.js';

export const SCENARIOS = ['throughput', 'fanout', 'memory', 'reconnect', 'soak'] as const;
/** What `pnpm bench` runs without `--scenario`: the soak is asked for by name (it takes 10 minutes). */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['throughput', 'fanout', 'memory', 'reconnect'];
export type ScenarioName = (typeof SCENARIOS)[number];

/** Scenario numbers of issue 5, accepted as aliases. */
const ALIASES: Record<string, ScenarioName> = {
  '1': 'throughput',
  '2': 'fanout',
  '3': 'memory',
  '4': 'reconnect',
  '5': 'soak',
};

/** `HERALD_ACK_TIMEOUT_MS` of the bench's dispatcher unless `--ack-timeout-ms` says otherwise. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
/** Length of the soak unless `--soak-minutes` says otherwise. */
export const DEFAULT_SOAK_MINUTES = 10;

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  paths: BenchPath[];
  profile: boolean;
  /** Scenario 3 also diffs two heap snapshots to show what a connection retains. */
  heapSnapshots: boolean;
  /** Where results go. @default bench/results (quick runs: bench/results/quick) */
  outDir: string | undefined;
  /** HERALD_DISPATCHER_CONCURRENCY for the dispatcher and the naive worker; unset = Herald's default. */
  concurrency: number | undefined;
  /** The ceiling's publisher without auto-pipelining (one write per PUBLISH). */
  ceilingPlain: boolean;
  /** `ackDelayMs` of the devices' `@herald/client`; unset = the SDK's default (5000). A diagnostic: how much acking costs. */
  ackDelayMs: number | undefined;
  /** Herald's scenario-1 events skip the fallback check (`fallback: false`). A diagnostic of what the checks cost. */
  heraldNoFallback: boolean;
  /** Diagnostic: where Herald's publish → PUBLISH time goes, written to this file by `stage-tracer.ts`. */
  traceStages: string | undefined;
  /** Trials per step of scenario 1; each step reports their medians. @default 3 */
  trials: number;
  /** `HERALD_ACK_TIMEOUT_MS` of the dispatcher: when fallback checks run. @default 10_000 */
  ackTimeoutMs: number;
  /** Length of the soak scenario. @default 10 */
  soakMinutes: number;
  /** The run aborts itself after this long. */
  maxMinutes: number;
  /** Scenario 1's fixed rates instead of the scale's. */
  rates: number[] | undefined;
  /** At most this many steps per search instead of the scale's (0: no search). */
  searchSteps: number | undefined;
  /** Length of each trial of scenario 1 (fixed and search) instead of the scale's. */
  stepMs: number | undefined;
  /**
   * Which Redis: `single` (`REDIS_URL`, else a private redis-server) or `cluster` (a private
   * 3-master Redis Cluster without replicas; Redis CPU is also reported per master). @default 'single'
   */
  redis: RedisTargetKind;
  /** Only re-render latest.md / latest.svg (and the README block) from this run's JSON. */
  render: string | undefined;
}

export const USAGE = `pnpm bench [--quick] [--scenario throughput,fanout,memory,reconnect,soak | 1,2,3,4,5]
           [--paths ceiling,naive,herald] [--no-profile] [--no-heap-snapshot] [--ceiling-plain]
           [--concurrency N] [--trials N] [--rates R1,R2] [--search-steps N] [--step-ms N]
           [--ack-timeout-ms N] [--ack-delay-ms N] [--herald-no-fallback] [--soak-minutes N]
           [--trace-stages FILE] [--redis single|cluster] [--out DIR] [--max-minutes N]
       pnpm bench --render bench/results/<timestamp>.json

  --quick         small scales (200 users, short steps): a smoke run in about a minute
  --scenario      which scenarios to run (default: throughput,fanout,memory,reconnect; the
                  soak runs only when named)
  --paths         which paths to compare in scenarios 1 and 2 (default: all three)
  --no-profile    skip the --cpu-prof run of the dispatcher at Herald's maximum rate
  --no-heap-snapshot  skip the heap-snapshot diff of scenario 3 (what an idle connection retains)
  --ceiling-plain the ceiling publisher without auto-pipelining (one write per PUBLISH)
  --concurrency   HERALD_DISPATCHER_CONCURRENCY, also used by the naive worker (default 32, Herald's default, for both)
  --trials        trials per step of scenario 1, each step reporting their medians (default 3)
  --rates         scenario 1's fixed rates (default 500,2000); with --search-steps 0 and a short
                  --step-ms, a smoke run of a few seconds per step
  --search-steps  at most this many steps per search of scenario 1 (default: the scale's)
  --step-ms       length of each trial of scenario 1 (default: the scale's)
  --ack-timeout-ms  HERALD_ACK_TIMEOUT_MS of the dispatcher (default 10000): Herald's fallback
                  checks run during the scenarios; must exceed the devices' ackDelayMs + 1000
  --soak-minutes  length of the soak scenario (default 10)
  --ack-delay-ms  ackDelayMs of the devices' @herald/client (default: the SDK's, 5000); a diagnostic
                  of what acking costs Herald, not for the committed results
  --herald-no-fallback  Herald's scenario-1 events published with fallback: false (no ack check
                  job per event); a diagnostic, not for the committed results
  --trace-stages  write to FILE, every second, how Herald's publish→PUBLISH time splits into
                  publisher, queue pickup and dispatcher (and a timeline per fan-out); a
                  diagnostic process that costs CPU, not for the committed results
  --redis         single (default: REDIS_URL, else a private redis-server) or cluster: a private
                  3-master Redis Cluster on loopback, no replicas (REDIS_URL ignored); Redis CPU
                  is then reported per master too
  --out           results directory (default: bench/results, or bench/results/quick with --quick)
  --max-minutes   abort the run after this long (default 40, or the soak's length + 20)
  --render FILE   measure nothing: re-render latest.md and latest.svg beside a run's JSON
                  (and the README block, for a full run in bench/results)
`;

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  aliases: Record<string, T> = {},
): T[] {
  if (value === undefined) return [...allowed];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => aliases[s] ?? s);
  for (const item of items) {
    if (!allowed.includes(item as T))
      throw new Error(`unknown value "${item}"; expected one of ${allowed.join(', ')}`);
  }
  return allowed.filter((a) => items.includes(a));
}

/** Parses the command line; throws with a message naming the bad option. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      paths: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      'no-heap-snapshot': { type: 'boolean', default: false },
      'ceiling-plain': { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'ack-delay-ms': { type: 'string' },
      trials: { type: 'string' },
      rates: { type: 'string' },
      'search-steps': { type: 'string' },
      'step-ms': { type: 'string' },
      'ack-timeout-ms': { type: 'string' },
      'soak-minutes': { type: 'string' },
      'herald-no-fallback': { type: 'boolean', default: false },
      'trace-stages': { type: 'string' },
      redis: { type: 'string', default: 'single' },
      out: { type: 'string' },
      'max-minutes': { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (
    concurrency !== undefined &&
    (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1_000)
  ) {
    throw new Error('--concurrency must be an integer from 1 to 1000');
  }
  const ackDelayMs = values['ack-delay-ms'] === undefined ? undefined : Number(values['ack-delay-ms']);
  if (
    ackDelayMs !== undefined &&
    !(Number.isInteger(ackDelayMs) && ackDelayMs >= 0 && ackDelayMs <= 600_000)
  ) {
    throw new Error('--ack-delay-ms must be an integer from 0 to 600000');
  }
  const int = (name: string, min: number, max: number): number | undefined => {
    const text = (values as Record<string, string | boolean | undefined>)[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return value;
  };
  const trials = int('trials', 1, 9) ?? TRIALS_PER_STEP;
  const ackTimeoutMs = int('ack-timeout-ms', 1_000, 3_600_000) ?? DEFAULT_ACK_TIMEOUT_MS;
  const soakMinutes =
    values['soak-minutes'] === undefined ? DEFAULT_SOAK_MINUTES : Number(values['soak-minutes']);
  if (!(soakMinutes >= 0.5 && soakMinutes <= 120))
    throw new Error('--soak-minutes must be a number from 0.5 to 120');
  const rates = values.rates?.split(',').map((r) => Number(r.trim()));
  if (rates?.some((r) => !Number.isInteger(r) || r < 100 || r > 100_000))
    throw new Error('--rates must be integers from 100 to 100000, comma-separated');
  const scenarios =
    values.scenario === undefined ? [...DEFAULT_SCENARIOS] : list(values.scenario, SCENARIOS, ALIASES);
  const defaultMax = scenarios.includes('soak') ? Math.ceil(soakMinutes) + 20 : 40;
  const maxMinutes = values['max-minutes'] === undefined ? defaultMax : Number(values['max-minutes']);
  if (!(maxMinutes > 0 && maxMinutes <= 180)) throw new Error('--max-minutes must be a number from 1 to 180');
  const redis = values.redis as RedisTargetKind;
  if (!REDIS_TARGET_KINDS.includes(redis))
    throw new Error(`--redis must be one of ${REDIS_TARGET_KINDS.join(', ')}`);
  // The tracer reads the streams and the channel with one plain connection.
  if (redis === 'cluster' && values['trace-stages'] !== undefined)
    throw new Error('--trace-stages runs on one Redis only, not with --redis cluster');
  return {
    quick: values.quick,
    redis,
    scenarios,
    trials,
    ackTimeoutMs,
    soakMinutes,
    rates,
    searchSteps: int('search-steps', 0, 20),
    stepMs: int('step-ms', 500, 60_000),
    paths: list(values.paths, PATHS),
    profile: !values['no-profile'],
    heapSnapshots: !values['no-heap-snapshot'],
    ceilingPlain: values['ceiling-plain'],
    ackDelayMs,
    heraldNoFallback: values['herald-no-fallback'],
    traceStages: values['trace-stages'],
    outDir: values.out,
    concurrency,
    maxMinutes,
    render: values.render,
  };
}
