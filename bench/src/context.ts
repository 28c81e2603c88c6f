import type { RedisClient } from '@herald/core';
import type { ChildRegistry } from './children.js';
import type { ProcSampler } from './proc-sampler.js';
import type { Stack } from './stack.js';
import type { FallbackAudit } from './fallback-audit.js';

/** Sizes of one run: the full one the issue asks for, or a quick smoke run. */
export interface Scale {
  name: 'full' | 'quick';
  /** Connected users of scenarios 1, 2 and 4 (one device each, over 2 nodes). */
  users: number;
  /** Fixed offered rates of scenario 1. */
  rates: number[];
  /** Length of each fixed-rate step. */
  stepMs: number;
  /** Length of each step while searching for the maximum sustained rate. */
  searchStepMs: number;
  /** At most this many search steps per path. */
  searchSteps: number;
  /** Recipients of the scenario-2 `toUsers` (of whom `users` are online). */
  fanOutTotal: number;
  fanOutRepeats: number;
  /** Scenario 3: connections on node A, then on node B, added `memoryBatch` at a time. */
  memoryNodeA: number;
  memoryNodeB: number;
  memoryBatch: number;
  /** Heap per connection is the slope between these connection counts on node A. */
  memorySlopeFrom: number;
  memorySlopeTo: number;
  /** Connections of each baseline server (bare ws, default Socket.IO). */
  baselineConnections: number;
  /** Heap snapshots of a fresh node at these two connection counts, diffed per connection. */
  snapshotFrom: number;
  snapshotTo: number;
  /** Scenario 4: events each user misses while disconnected. */
  missedPerUser: number;
  /** Length of the profiled run of Herald at its maximum sustained rate. */
  profileMs: number;
}

export const FULL_SCALE: Scale = {
  name: 'full',
  users: 2_000,
  rates: [500, 2_000],
  stepMs: 8_000,
  searchStepMs: 5_000,
  searchSteps: 8,
  fanOutTotal: 10_000,
  fanOutRepeats: 5,
  memoryNodeA: 6_000,
  memoryNodeB: 4_000,
  memoryBatch: 1_000,
  memorySlopeFrom: 2_000,
  memorySlopeTo: 6_000,
  baselineConnections: 6_000,
  snapshotFrom: 500,
  snapshotTo: 2_000,
  missedPerUser: 20,
  profileMs: 6_000,
};

export const QUICK_SCALE: Scale = {
  name: 'quick',
  users: 200,
  rates: [500, 2_000],
  stepMs: 1_500,
  searchStepMs: 1_500,
  searchSteps: 2,
  fanOutTotal: 1_000,
  fanOutRepeats: 1,
  memoryNodeA: 600,
  memoryNodeB: 400,
  memoryBatch: 200,
  memorySlopeFrom: 200,
  memorySlopeTo: 600,
  baselineConnections: 600,
  snapshotFrom: 100,
  snapshotTo: 300,
  missedPerUser: 5,
  profileMs: 2_000,
};

/** What every scenario gets from the orchestrator. */
export interface BenchContext {
  stack: Stack;
  registry: ChildRegistry;
  sampler: ProcSampler;
  scale: Scale;
  /** The orchestrator's own connection (queue counts, presence): a `Cluster` on `--redis cluster`. */
  redis: RedisClient;
  prefix: string;
  jwtSecret: string;
  /** `ackDelayMs` of the devices' SDK clients (undefined: the SDK's default). */
  ackDelayMs: number | undefined;
  /** Trials per step of scenario 1 (its figures are their medians). */
  trials: number;
  /** Which Herald events were emailed, and whether their devices had acked them. */
  audit: FallbackAudit;
  /** Ids of the users whose devices are connected in scenarios 1, 2 and 4. */
  onlineUsers: string[];
  /** Progress line for the terminal. */
  log(line: string): void;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
