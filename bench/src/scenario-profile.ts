/**
 * Profiles Herald's path at its maximum sustained rate: the dispatcher (and Herald's
 * publisher process) are restarted under `node --cpu-prof`, driven for a few seconds,
 * stopped so the profiles are written, summarised, and replaced by unprofiled ones.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext } from './context.js';
import { summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { runStep, type StepResult } from './scenario-throughput.js';

export interface ProfileResult {
  rate: number;
  step: StepResult;
  /** Where the `.cpuprofile` files are (git-ignored; open them in Chrome DevTools). */
  dir: string;
  dispatcher: ProfileSummary | null;
  publisher: ProfileSummary | null;
}

export async function runProfile(ctx: BenchContext, rate: number, dir: string): Promise<ProfileResult> {
  const { stack } = ctx;
  await mkdir(dir, { recursive: true });
  ctx.log(`profile: Herald at ${rate}/s with the dispatcher and publisher under --cpu-prof`);
  const flags = (name: string) => [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}.cpuprofile`,
  ];
  await stack.stopDispatcher();
  await stack.publisher('herald').stop();
  await Promise.all([
    stack.startDispatcher(flags('dispatcher')),
    stack.startPublisher('herald', flags('publisher-herald')),
  ]);
  let step: StepResult;
  try {
    step = await runStep(ctx, 'herald', rate, ctx.scale.profileMs, 'profile');
  } finally {
    // Stopping writes the profiles (the processes exit through process.exit).
    await stack.stopDispatcher();
    await stack.publisher('herald').stop();
  }
  const read = async (name: string) => {
    try {
      return await summarizeProfile(path.join(dir, `${name}.cpuprofile`));
    } catch (error) {
      ctx.log(
        `  could not read the ${name} profile: ${error instanceof Error ? error.message : String(error)}`,
      );
      return null;
    }
  };
  const result: ProfileResult = {
    rate,
    step,
    dir,
    dispatcher: await read('dispatcher'),
    publisher: await read('publisher-herald'),
  };
  await Promise.all([stack.startDispatcher(), stack.startPublisher('herald')]);
  for (const entry of result.dispatcher?.top.slice(0, 8) ?? []) {
    ctx.log(`  dispatcher ${String(entry.selfPct).padStart(5)}%  ${entry.name}`);
  }
  return result;
}
