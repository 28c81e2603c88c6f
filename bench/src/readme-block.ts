import { readFile, writeFile } from 'node:fs/promises';
import { headlineLine } from './report-markdown.js';
import type { BenchResults } from './results.js';

export const README_START = '<!-- bench:start (written by pnpm bench; edits inside are overwritten) -->';
export const README_END = '<!-- bench:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The part of README.md's "Performance" section that each full run rewrites. */
export function renderReadmeBlock(r: BenchResults): string {
  const lines: string[] = [];
  const max = r.maxSustainedPerS;
  const n = (v: number | null | undefined) =>
    v === null || v === undefined ? 'n/a' : v.toLocaleString('en-US');
  lines.push(
    `Latest run: ${r.startedAt.slice(0, 10)}, ${r.durationS} s, commit ${r.machine.gitCommit}, ` +
      `${r.machine.cores} cores; ${r.machine.note}.`,
  );
  lines.push('');
  lines.push(
    `Maximum sustained delivered events/s: Herald ${n(max.herald)}, ` +
      `ceiling (sharded emitter alone) ${n(max.ceiling)}, one BullMQ job per event ${n(max.naive)}.`,
  );
  lines.push('');
  lines.push(headlineLine(r) + '.');
  lines.push('');
  lines.push('![Latency and throughput by offered rate](bench/results/latest.svg)');
  lines.push('');
  lines.push('| From | Target | Measured | For comparison | |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const t of r.targets) {
    const verdict = t.met === null ? 'not run' : t.met ? 'met' : 'missed';
    lines.push(
      `| ${t.source ?? 'issue 5'} | ${cell(t.target)} | ${cell(t.measured)} | ${cell(t.reference ?? '')} | ${verdict} |`,
    );
  }
  lines.push('');
  lines.push('Every figure, per step and per process: [bench/results/latest.md](bench/results/latest.md).');
  return lines.join('\n');
}

/**
 * Replaces the block between the markers in README.md with this run's figures, then
 * formats the file with the repository's Prettier settings (CI checks formatting).
 * Does nothing when the markers are missing.
 */
export async function updateReadme(file: string, results: BenchResults): Promise<boolean> {
  const text = await readFile(file, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return false;
  let next = `${text.slice(0, start + README_START.length)}\n\n${renderReadmeBlock(results)}\n\n${text.slice(end)}`;
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    next = await prettier.format(next, { ...config, filepath: file });
  } catch {
    // Unformatted is still correct Markdown; `pnpm format` tidies it.
  }
  await writeFile(file, next);
  return true;
}
