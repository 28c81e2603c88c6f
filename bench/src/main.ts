/**
 * `pnpm bench`: Herald beside its ceiling (the sharded emitter alone) and a
 * one-job-per-event pipeline, as real processes on one Redis. Reads the command
 * line, runs, prints progress and where the reports went. See bench/README.md.
 */
import { DEFAULT_SCENARIOS, USAGE, parseBenchOptions } from './cli-options.js';
import path from 'node:path';
import { REPO_ROOT } from './children.js';
import { updateReadme } from './readme-block.js';
import { runBench } from './run-bench.js';
import { rerenderReports } from './write-reports.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

let options;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(1);
}
if (options === 'help') {
  print(USAGE);
  process.exit(0);
}

// Ctrl+C or a SIGTERM: the exit handler of runBench kills every child.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    print(`\n${signal}: stopping`);
    process.exit(130);
  });
}

if (options.render) {
  const { results, files } = await rerenderReports(options.render);
  const inResults = path.resolve(path.dirname(options.render)) === path.join(REPO_ROOT, 'bench', 'results');
  if (
    inResults &&
    results.scale === 'full' &&
    DEFAULT_SCENARIOS.every((s) => results.scenarios.includes(s))
  ) {
    const readme = path.join(REPO_ROOT, 'README.md');
    if (await updateReadme(readme, results)) files.push(readme);
  }
  print(`wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  process.exit(0);
}

try {
  const results = await runBench(options, print);
  print('');
  print(
    `ratioToCeiling ${results.ratioToCeiling ?? 'n/a'}, latencyBoundRatio ${results.latencyBoundRatio ?? 'n/a'}, ` +
      `p99RatioAt2000 ${results.p99RatioAt2000 ?? 'n/a'}, p99RatioAt500 ${results.p99RatioAt500 ?? 'n/a'}, ` +
      `fanoutP99Ratio ${results.fanoutP99Ratio ?? 'n/a'}, soakRedisGrowthMbPerMin ${results.soakRedisGrowthMbPerMin ?? 'n/a'}, ` +
      `clusterMasterCpuSpread ${results.clusterMasterCpuSpread ?? 'n/a'}; ` +
      `redisUsPerEvent ${JSON.stringify(results.redisUsPerEvent)}`,
  );
  for (const t of results.targets) {
    const verdict = t.met === null ? 'not run' : t.met ? 'met' : 'MISSED';
    print(`${verdict.padEnd(8)} ${t.target}: ${t.measured}${t.reference ? ` [${t.reference}]` : ''}`);
  }
  print(`machine: ${results.machine.note}`);
  print(`done in ${results.durationS} s`);
  process.exit(0);
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
