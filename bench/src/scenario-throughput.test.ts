import { describe, expect, it } from 'vitest';
import { aggregateTrials, describePath, meetsLatencyBound, type TrialResult } from './scenario-throughput.js';
import { clusterSpreadStep } from './targets.js';

function trial(overrides: Partial<TrialResult> & { p99: number }): TrialResult {
  const { p99, ...rest } = overrides;
  return {
    path: 'herald',
    phase: 'herald-2000-1',
    kind: 'fixed',
    targetRate: 2_000,
    durationMs: 8_000,
    offeredPerS: 2_000,
    deliveredPerS: 1_990,
    published: 16_000,
    skipped: 0,
    publishErrors: 0,
    publishErrorSamples: [],
    received: 16_000,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    acksPerEvent: 0.1,
    syncs: 0,
    loadCpuPct: 10,
    latency: { n: 16_000, p50: 5, p95: p99 / 2, p99, max: p99 * 2, mean: 6 },
    lagGrowthMs: 0,
    drainMs: 10,
    publishSettleMs: 1,
    queuedAtEnd: 0,
    redisCommands: [],
    redisUsecPerEvent: 50,
    redisCpuUsPerEvent: 60,
    sustained: true,
    notSustainedBecause: [],
    processes: [{ name: 'dispatcher', pid: 1, cpuPct: 50, rssMaxMiB: 100 }],
    machine: { cores: 2, busyPct: 150, benchPct: 140, otherPct: 10 },
    ...rest,
  };
}

describe('aggregateTrials', () => {
  it("takes each figure's median on its own and sums the counts", () => {
    const step = aggregateTrials([
      trial({ p99: 30, deliveredPerS: 1_980, redisCpuUsPerEvent: 70 }),
      trial({ p99: 10, deliveredPerS: 1_995, redisCpuUsPerEvent: 50 }),
      trial({ p99: 20, deliveredPerS: 1_990, redisCpuUsPerEvent: 90 }),
    ]);
    expect(step.latency.p99).toBe(20);
    expect(step.deliveredPerS).toBe(1_990);
    expect(step.redisCpuUsPerEvent).toBe(70);
    expect(step.published).toBe(48_000);
    expect(step.trials).toHaveLength(3);
    expect(step.sustained).toBe(true);
    expect(meetsLatencyBound(step)).toBe(true);
  });

  it('is sustained when most trials are, and not when any trial lost an event', () => {
    const once = aggregateTrials([
      trial({ p99: 20 }),
      trial({ p99: 600, sustained: false, notSustainedBecause: ['p99 600 ms'] }),
      trial({ p99: 20 }),
    ]);
    expect(once.sustained).toBe(true);
    const twice = aggregateTrials([
      trial({ p99: 20 }),
      trial({ p99: 600, sustained: false, notSustainedBecause: ['p99 600 ms'] }),
      trial({ p99: 700, sustained: false, notSustainedBecause: ['p99 700 ms'] }),
    ]);
    expect(twice.sustained).toBe(false);
    const lossy = aggregateTrials([
      trial({ p99: 20 }),
      trial({ p99: 20, lost: 1, sustained: false, notSustainedBecause: ['1 lost'] }),
      trial({ p99: 20 }),
    ]);
    expect(lossy.sustained).toBe(false);
    expect(lossy.lost).toBe(1);
    expect(meetsLatencyBound(lossy)).toBe(false);
  });

  it("takes each master's median CPU on its own (a cluster run)", () => {
    const masters = (a: number, b: number) => [
      { node: 'm1', usPerEvent: a, cpuPct: a / 10 },
      { node: 'm2', usPerEvent: b, cpuPct: b / 10 },
    ];
    const step = aggregateTrials([
      trial({ p99: 20, redisCpuPerMaster: masters(30, 10) }),
      trial({ p99: 20, redisCpuPerMaster: masters(40, 30) }),
      trial({ p99: 20, redisCpuPerMaster: masters(20, 20) }),
    ]);
    expect(step.redisCpuPerMaster).toEqual(masters(30, 20));
    expect(aggregateTrials([trial({ p99: 20 })]).redisCpuPerMaster).toBeUndefined();
  });
});

describe('clusterSpreadStep', () => {
  const perMaster = (...us: number[]) => us.map((u, i) => ({ node: `m${i}`, usPerEvent: u, cpuPct: u }));
  const step = (targetRate: number, sustained: boolean, us: number[]) =>
    aggregateTrials([
      trial({
        p99: 20,
        targetRate,
        deliveredPerS: targetRate,
        sustained,
        notSustainedBecause: sustained ? [] : ['p99 600 ms'],
        redisCpuPerMaster: perMaster(...us),
      }),
    ]);

  it("is max |master − mean| ÷ mean at Herald's highest sustained step", () => {
    const throughput = {
      paths: [
        describePath('herald', [
          step(2_000, true, [10, 10, 10]),
          step(4_000, true, [30, 20, 10]),
          step(6_000, false, [90, 10, 10]),
        ]),
      ],
      sustainedDefinition: '',
      trialsPerStep: 1,
    };
    const found = clusterSpreadStep(throughput);
    expect(found?.spread).toBe(0.5);
    expect(found?.at).toContain('4,000/s');
  });

  it('falls back to the 2,000/s step when none was sustained, and is null on one Redis', () => {
    const none = {
      paths: [describePath('herald', [step(2_000, false, [12, 6, 12])])],
      sustainedDefinition: '',
      trialsPerStep: 1,
    };
    expect(clusterSpreadStep(none)?.spread).toBe(0.4);
    const single = {
      paths: [describePath('herald', [aggregateTrials([trial({ p99: 20 })])])],
      sustainedDefinition: '',
      trialsPerStep: 1,
    };
    expect(clusterSpreadStep(single)).toBeNull();
  });
});
