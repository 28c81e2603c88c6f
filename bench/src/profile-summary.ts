import { readFile } from 'node:fs/promises';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** `function (file:line)`, or a V8 pseudo-frame such as `(garbage collector)`. */
  name: string;
  /** Where the code lives: a package (`bullmq`, `ioredis`, `@herald/core`), `node`, or `v8`. */
  area: string;
  selfMs: number;
  /** Share of the sampled time that was not idle. */
  selfPct: number;
}

export interface ProfileSummary {
  file: string;
  /** Profiled wall time. */
  wallMs: number;
  /** Sampled time not spent idle (≈ CPU time of the main thread). */
  busyMs: number;
  top: ProfileEntry[];
  byArea: Array<{ area: string; selfMs: number; selfPct: number }>;
}

/** Names where code comes from, so the profile reads by component. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? 'v8' : 'native';
  if (url.startsWith('node:')) return 'node';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1] as string;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  const herald = /\/(apps|packages|bench)\/([^/]+)\//.exec(url);
  if (herald) return herald[1] === 'bench' ? 'bench' : `@herald/${herald[2]}`;
  return 'other';
}

function shortUrl(url: string): string {
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/(.*)$/.exec(url);
  if (pnpm) return pnpm[1] as string;
  const repo = /\/((?:apps|packages|bench)\/.*)$/.exec(url);
  if (repo) return repo[1] as string;
  return url.replace(/^file:\/\//, '');
}

/**
 * This machine's monotonic clock in µs: the clock V8 stamps profile samples with
 * (CLOCK_MONOTONIC on Linux, shared by every process), so a window measured in one
 * process can be cut out of another process's profile.
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1_000n);
}

/**
 * Reads a `.cpuprofile` (from `node --cpu-prof`) and sums self time per function and
 * per area, counting only samples inside `window` (monotonic µs) when given, so start-up
 * and shutdown do not drown the steady state.
 */
export async function summarizeProfile(
  file: string,
  window?: { fromUs: number; toUs: number },
  topN = 20,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { area: string; us: number }>();
  let idleUs = 0;
  let totalUs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time since the previous one; it is charged to this sample's frame.
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    totalUs += us;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      return;
    }
    const name = url
      ? `${functionName || '(anonymous)'} (${shortUrl(url)}:${lineNumber + 1})`
      : functionName || '(anonymous)';
    const entry = self.get(name) ?? { area: areaOf(url, functionName), us: 0 };
    entry.us += us;
    self.set(name, entry);
  });
  const busyUs = Math.max(1, totalUs - idleUs);
  const busyForReport = totalUs - idleUs;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  const top = [...self.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, topN)
    .map(([name, e]) => ({ name, area: e.area, selfMs: ms(e.us), selfPct: pct(e.us) }));
  const areas = new Map<string, number>();
  for (const e of self.values()) areas.set(e.area, (areas.get(e.area) ?? 0) + e.us);
  const byArea = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, selfMs: ms(us), selfPct: pct(us) }));
  return {
    file,
    wallMs: ms(
      window
        ? Math.min(window.toUs, profile.endTime) - Math.max(window.fromUs, profile.startTime)
        : profile.endTime - profile.startTime,
    ),
    busyMs: ms(busyForReport),
    top,
    byArea,
  };
}
