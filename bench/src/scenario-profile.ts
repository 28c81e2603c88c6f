/**
 * Profiles Herald's path at its maximum sustained rate: the dispatcher (and Herald's
 * publisher process) are restarted under `node --cpu-prof`, driven for a few seconds,
 * stopped so the profiles are written, summarised, and replaced by unprofiled ones.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext } from './context.js';
import { monotonicMicros, summarizeProfile, type ProfileSummary } from './profile-summary.js';
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
  // One directory per process: with tsx, the ESM loader's worker thread writes a profile of
  // its own, which would overwrite the main thread's under a fixed --cpu-prof-name.
  const flags = (name: string) => ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, name)}`];
  await stack.stopDispatcher();
  await stack.publisher('herald').stop();
  await Promise.all([
    stack.startDispatcher(flags('dispatcher')),
    stack.startPublisher('herald', flags('publisher-herald')),
  ]);
  let step: StepResult;
  let window: { fromUs: number; toUs: number };
  try {
    // The restarted processes warm up (JIT, scripts) before the profiled window opens.
    await runStep(ctx, 'herald', rate, Math.min(2_000, ctx.scale.profileMs), 'profile');
    const fromUs = monotonicMicros();
    step = await runStep(ctx, 'herald', rate, ctx.scale.profileMs, 'profile');
    // The window is the publishing part of the step (runStep also waits for delivery).
    window = { fromUs, toUs: fromUs + (ctx.scale.profileMs + 1_000) * 1_000 };
  } finally {
    // Stopping writes the profiles (the processes exit through process.exit).
    await stack.stopDispatcher();
    await stack.publisher('herald').stop();
  }
  /** The busiest thread's profile of a process (its main thread; the loader thread idles). */
  const read = async (name: string) => {
    try {
      const files = (await readdir(path.join(dir, name))).filter((f) => f.endsWith('.cpuprofile'));
      const summaries = await Promise.all(
        files.map((f) => summarizeProfile(path.join(dir, name, f), window)),
      );
      const busiest = summaries.sort((a, b) => b.busyMs - a.busyMs)[0];
      if (!busiest) throw new Error(`no profile written in ${path.join(dir, name)}`);
      return busiest;
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
