import type { MachineUsage } from './proc-sampler.js';
import type { FanOutResult } from './scenario-fan-out.js';
import type { IdleMemoryResult } from './scenario-idle-memory.js';
import type { ProfileResult } from './scenario-profile.js';
import type { ReconnectResult } from './scenario-reconnect.js';
import type { ThroughputResult } from './scenario-throughput.js';
import type { BenchPath } from './stack.js';
import type { HeadlineFigures, TargetResult } from './targets.js';
import type { SoakResult } from './scenario-soak.js';

/** Everything one `pnpm bench` run measured: the JSON written to `bench/results/<timestamp>.json`. */
export interface BenchResults extends HeadlineFigures {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  command: string;
  scale: 'full' | 'quick';
  scenarios: string[];
  paths: BenchPath[];
  machine: {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    node: string;
    kernel: string;
    gitCommit: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
    /** CPU use over the whole run: the bench's own processes versus everything else on the machine. */
    duringRun: MachineUsage;
    /** Plain-words note on other load, for the report. */
    note: string;
  };
  config: {
    socketNodes: number;
    users: number;
    loadProcesses: number;
    redis: {
      source: string;
      version: string;
      /** `--redis cluster`: each master's `host:port` (absent on one Redis). */
      masters?: string[];
      replicasPerMaster?: number;
      /** `--redis cluster`: the partitions each master holds, and which holds the prefix's own tag. */
      partitionsPerMaster?: Record<string, { partitions: number[]; prefixTag: boolean }>;
    };
    /** Socket-node limit variables raised for the bench (all load comes from 127.0.0.1). */
    limitsRaised: Record<string, string>;
    /** Older runs: a string such as `default (32)`. */
    dispatcherConcurrency: number | string;
    naiveConcurrency: number;
    ackTimeoutMs: number;
    /** Trials per step of scenario 1 (absent in runs of one trial per step). */
    trialsPerStep?: number;
    /** How the ceiling's publisher writes to Redis. */
    ceilingPublisher: string;
    /** `ackDelayMs` of the devices' `@herald/client` (absent in runs before the SDK devices). */
    clientAckDelayMs?: number | string;
    /** The fallback policy of Herald's scenario-1 events (absent in older runs: the default). */
    heraldScenario1Fallback?: string;
    sustainedDefinition: string;
  };
  maxSustainedPerS: Partial<Record<BenchPath, number | null>>;
  targets: TargetResult[];
  throughput?: ThroughputResult;
  profile?: ProfileResult;
  fanOut?: FanOutResult;
  reconnect?: ReconnectResult;
  idleMemory?: IdleMemoryResult;
  soak?: SoakResult;
  notes: string[];
}
