/**
 * The chart of `bench/results/latest.svg`, drawn by hand (no chart dependency):
 * left, p50 and p99 latency over offered rate (log scale); right, delivered/s over
 * offered rate, with the line where delivery keeps up. Filled points are sustained
 * steps, hollow ones are not.
 */
import type { BenchResults } from './results.js';
import type { BenchPath } from './stack.js';
import { HOT_PATH_TARGETS } from './targets.js';

const COLORS: Record<BenchPath, string> = { ceiling: '#6b7280', naive: '#d97706', herald: '#2563eb' };
const WIDTH = 960;
const HEIGHT = 470;

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
}

function esc(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The 1-2-5 step at or below `v` (the log axis starts there). */
function logFloor(v: number): number {
  const mag = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((f) => f * mag).find((s) => s <= v) ?? mag;
}

/** The 1-2-5 step at or above `v`. */
function logCeil(v: number): number {
  const mag = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= v) ?? 10 * mag;
}

/** 1-2-5 ticks from `lo` to `hi`. */
function rateTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let mag = 10 ** Math.floor(Math.log10(lo)); mag <= hi; mag *= 10) {
    for (const f of [1, 2, 5]) if (f * mag >= lo && f * mag <= hi) ticks.push(f * mag);
  }
  return ticks;
}

function label(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return String(value);
}

function axes(
  p: Panel,
  xTicks: number[],
  yTicks: number[],
  sx: (v: number) => number,
  sy: (v: number) => number,
  yLabel: (v: number) => string,
): string {
  const parts: string[] = [];
  for (const t of yTicks) {
    const y = sy(t);
    parts.push(`<line x1="${p.x}" x2="${p.x + p.w}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${p.x - 6}" y="${y + 4}" text-anchor="end">${esc(yLabel(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = sx(t);
    parts.push(`<line x1="${x}" x2="${x}" y1="${p.y}" y2="${p.y + p.h}" stroke="#f3f4f6"/>`);
    parts.push(`<text x="${x}" y="${p.y + p.h + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(`<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="none" stroke="#9ca3af"/>`);
  return parts.join('');
}

function series(
  points: Array<{ x: number; y: number; filled: boolean }>,
  color: string,
  dashed: boolean,
): string {
  if (points.length === 0) return '';
  const d = points.map((pt, i) => `${i === 0 ? 'M' : 'L'}${pt.x.toFixed(1)},${pt.y.toFixed(1)}`).join(' ');
  const line = `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
  const dots = points
    .map(
      (pt) =>
        `<circle cx="${pt.x.toFixed(1)}" cy="${pt.y.toFixed(1)}" r="${dashed ? 2.5 : 4}" ` +
        `fill="${pt.filled ? color : 'white'}" stroke="${color}" stroke-width="1.5"/>`,
    )
    .join('');
  return line + dots;
}

/**
 * The hot-path issue's figures under the title, each with its target: green when met,
 * red when missed, grey when not measured in this run.
 */
function ratioStrip(r: BenchResults): string {
  const T = HOT_PATH_TARGETS;
  const items: Array<[string, number | null | undefined, '≥' | '≤', number]> = [
    ['ratioToCeiling', r.ratioToCeiling, '≥', T.ratioToCeiling],
    ['latencyBoundRatio', r.latencyBoundRatio, '≥', T.latencyBoundRatio],
    ['p99RatioAt2000', r.p99RatioAt2000, '≤', T.p99RatioAt2000],
    ['p99RatioAt500', r.p99RatioAt500, '≤', T.p99RatioAt500],
    ['fanoutP99Ratio', r.fanoutP99Ratio, '≤', T.fanoutP99Ratio],
    ['soakRedisGrowthMbPerMin', r.soakRedisGrowthMbPerMin, '≤', T.soakRedisGrowthMbPerMin],
  ];
  // Only a cluster run measures it; the other runs keep six columns.
  if (r.clusterMasterCpuSpread != null)
    items.push(['clusterMasterCpuSpread', r.clusterMasterCpuSpread, '≤', T.clusterMasterCpuSpread]);
  const width = WIDTH / items.length;
  return items
    .map(([name, value, op, target], i) => {
      const known = value !== null && value !== undefined;
      const met = known && (op === '≥' ? value >= target : value <= target);
      const color = !known ? '#6b7280' : met ? '#15803d' : '#b91c1c';
      const x = width * i + width / 2;
      return (
        `<text x="${x}" y="46" text-anchor="middle" font-size="10" fill="#374151">${esc(`${name} (${op} ${target})`)}</text>` +
        `<text x="${x}" y="64" text-anchor="middle" font-size="14" font-weight="600" fill="${color}">${known ? value : 'n/a'}</text>`
      );
    })
    .join('');
}

export function renderSvg(r: BenchResults): string {
  const paths = r.throughput?.paths ?? [];
  const steps = paths.flatMap((p) => p.steps);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
      `font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12" fill="#111827">`,
  );
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  const title =
    `Herald vs ceiling vs one-job-per-event: ratioToCeiling ${r.ratioToCeiling ?? 'n/a'} ` +
    `(${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cores} cores, ${r.scale} run)`;
  parts.push(
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`,
  );
  parts.push(ratioStrip(r));

  if (steps.length === 0) {
    parts.push(
      `<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">scenario 1 did not run</text></svg>`,
    );
    return parts.join('\n');
  }

  // Offered rates span two orders of magnitude (the ceiling runs ~10× further than the queued
  // paths), so both axes of rate are logarithmic: every path stays readable.
  const rates = steps.flatMap((s) => [s.targetRate, Math.max(1, s.deliveredPerS)]);
  const lo = logFloor(Math.min(...rates));
  const hi = logCeil(Math.max(...rates));
  const left: Panel = { x: 70, y: 90, w: 370, h: 300 };
  const right: Panel = { x: 550, y: 90, w: 370, h: 300 };
  const xTicks = rateTicks(lo, hi);
  const fx = (v: number) =>
    (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo));
  const sxL = (v: number) => left.x + fx(v) * left.w;
  const sxR = (v: number) => right.x + fx(v) * right.w;

  // Left: latency, log scale.
  const latencies = steps
    .flatMap((s) => [s.latency.p50, s.latency.p99])
    .filter((v): v is number => v !== null && v > 0);
  const minL = Math.max(0.1, 10 ** Math.floor(Math.log10(Math.min(...latencies, 1))));
  const maxL = 10 ** Math.ceil(Math.log10(Math.max(...latencies, 10)));
  const syL = (v: number) =>
    left.y +
    left.h -
    ((Math.log10(Math.max(v, minL)) - Math.log10(minL)) / (Math.log10(maxL) - Math.log10(minL))) * left.h;
  const yTicksL: number[] = [];
  for (let v = minL; v <= maxL * 1.0001; v *= 10) yTicksL.push(Number(v.toPrecision(1)));
  parts.push(axes(left, xTicks, yTicksL, sxL, syL, (v) => `${v}`));
  parts.push(
    `<text x="${left.x + left.w / 2}" y="${left.y - 10}" text-anchor="middle" font-weight="600">` +
      `publish → handler latency (ms, log): p99 solid, p50 dashed</text>`,
  );
  parts.push(
    `<text x="${left.x + left.w / 2}" y="${left.y + left.h + 34}" text-anchor="middle">offered events/s (log)</text>`,
  );

  // Right: delivered/s, same log scale as offered, so the diagonal means "keeps up".
  const syR = (v: number) => right.y + right.h - fx(v) * right.h;
  parts.push(axes(right, xTicks, xTicks, sxR, syR, label));
  parts.push(
    `<line x1="${sxR(lo)}" y1="${syR(lo)}" x2="${sxR(hi)}" y2="${syR(hi)}" ` +
      `stroke="#d1d5db" stroke-dasharray="3 3"/>`,
  );
  parts.push(
    `<text x="${right.x + right.w / 2}" y="${right.y - 10}" text-anchor="middle" font-weight="600">` +
      `delivered events/s, log (dotted: keeps up with offered)</text>`,
  );
  parts.push(
    `<text x="${right.x + right.w / 2}" y="${right.y + right.h + 34}" text-anchor="middle">offered events/s (log)</text>`,
  );

  for (const p of paths) {
    const sorted = [...p.steps].sort((a, b) => a.targetRate - b.targetRate);
    const color = COLORS[p.path];
    const pt = (
      sx: (v: number) => number,
      sy: (v: number) => number,
      y: number | null,
      x: number,
      filled: boolean,
    ) => (y === null ? [] : [{ x: sx(x), y: sy(y), filled }]);
    parts.push(
      series(
        sorted.flatMap((s) => pt(sxL, syL, s.latency.p50, s.targetRate, s.sustained)),
        color,
        true,
      ),
    );
    parts.push(
      series(
        sorted.flatMap((s) => pt(sxL, syL, s.latency.p99, s.targetRate, s.sustained)),
        color,
        false,
      ),
    );
    parts.push(
      series(
        sorted.flatMap((s) => pt(sxR, syR, s.deliveredPerS, s.targetRate, s.sustained)),
        color,
        false,
      ),
    );
  }

  // Legend.
  let lx = 70;
  const ly = HEIGHT - 30;
  for (const p of paths) {
    const color = COLORS[p.path];
    const text = `${p.path}: max sustained ${p.maxSustainedPerS === null ? 'n/a' : `${p.maxSustainedPerS.toLocaleString('en-US')}/s`}`;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="14" fill="${color}"/>`);
    parts.push(`<text x="${lx + 20}" y="${ly + 1}">${esc(text)}</text>`);
    lx += 250;
  }
  parts.push(
    `<text x="${WIDTH - 20}" y="${ly + 1}" text-anchor="end" fill="#6b7280">hollow = not sustained</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}
