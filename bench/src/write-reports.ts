import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderMarkdown } from './report-markdown.js';
import { renderSvg } from './report-svg.js';
import type { BenchResults } from './results.js';
import { headlineFigures, judgeTargets } from './targets.js';

/**
 * Writes `<timestamp>.json` (every figure of the run), `latest.md` (the tables the
 * README links) and `latest.svg` (the chart) into `dir`. Resolves to the files written.
 */
export async function writeReports(results: BenchResults, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = path.join(dir, `${stamp}.json`);
  const md = path.join(dir, 'latest.md');
  const svg = path.join(dir, 'latest.svg');
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(md, renderMarkdown(results, 'latest.svg'));
  await writeFile(svg, `${renderSvg(results)}\n`);
  return [json, md, svg];
}

/**
 * Renders `latest.md` and `latest.svg` again from a run's JSON, beside it (after a
 * change to the report code, without measuring again). Resolves to the files written.
 */
export async function rerenderReports(jsonFile: string): Promise<{ results: BenchResults; files: string[] }> {
  const stored = JSON.parse(await readFile(jsonFile, 'utf8')) as BenchResults;
  // Verdicts are judged again from the run's own figures, so the reports word them as the
  // current code does (the figures, and so the verdicts, are the run's).
  const results: BenchResults = { ...stored, ...headlineFigures(stored), targets: judgeTargets(stored) };
  const dir = path.dirname(jsonFile);
  const md = path.join(dir, 'latest.md');
  const svg = path.join(dir, 'latest.svg');
  await writeFile(md, renderMarkdown(results, 'latest.svg'));
  await writeFile(svg, `${renderSvg(results)}\n`);
  return { results, files: [md, svg] };
}
