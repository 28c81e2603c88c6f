import type { FanOutResult } from './scenario-fan-out.js';
import type { IdleMemoryResult } from './scenario-idle-memory.js';
import type { ReconnectResult } from './scenario-reconnect.js';
import type { ThroughputResult } from './scenario-throughput.js';
import { round } from './stats.js';

/** One target of issue 5, judged on this run. `met` is null when the scenario did not run. */
export interface TargetResult {
  id: 'throughput' | 'latency-2000' | 'fan-out' | 'idle-heap' | 'reconnect-storm';
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

  const ratio = ratioToCeiling(throughput);
  const max = (path: string) => throughput?.paths.find((p) => p.path === path)?.maxSustainedPerS ?? null;
  targets.push({
    id: 'throughput',
    target: "Herald's maximum sustained throughput ≥ 55% of the ceiling's (same run)",
    measured:
      ratio === null
        ? 'not measured'
        : `${(ratio * 100).toFixed(1)}% (${max('herald')}/s of ${max('ceiling')}/s; naive ${max('naive') ?? 'n/a'}/s)`,
    met: ratio === null ? null : ratio >= 0.55,
    reference: max('ceiling') === null ? null : `ceiling ${max('ceiling')}/s`,
  });

  const at = (path: string) =>
    throughput?.paths
      .find((p) => p.path === path)
      ?.steps.find((s) => s.kind === 'fixed' && s.targetRate === TARGET_RATE);
  const herald2k = at('herald');
  const ceiling2k = at('ceiling');
  targets.push({
    id: 'latency-2000',
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
