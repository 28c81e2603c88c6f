/**
 * Scenario 4: reconnect storm. Every connected device drops (client side), misses
 * `missedPerUser` events published meanwhile through Herald, then all reconnect at
 * the same instant. Measures the time until each is accepted again, and what each
 * got of the events it missed. Herald has no inbox or replay yet (issue 3), so the
 * missed events are expected to be lost; the bench counts them rather than assume it.
 * Finally one live event checks that every reconnected device receives again.
 */
import { PresenceReader, createKeys } from '@herald/core';
import { sleep, type BenchContext } from './context.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import { waitForQueuesIdle } from './scenario-throughput.js';
import { concat, round, summarize, type LatencySummary } from './stats.js';

export interface ReconnectResult {
  devices: number;
  missedPerUser: number;
  /** Time from the reconnect instant until each device was accepted (`authenticated`) again. */
  reconnect: LatencySummary;
  /** Time until the last device was accepted again. */
  allReconnectedMs: number | null;
  reconnectFailures: number;
  reconnectErrors: string[];
  /** Whether missed events are delivered after reconnecting. */
  catchUpSupported: boolean;
  catchUpNote: string;
  missedEvents: number;
  caughtUp: number;
  lost: number;
  /** Time until every device had caught up (null: some never did). */
  allCaughtUpMs: number | null;
  /** The live event after the storm: devices that received it. */
  liveAfterStorm: { expected: number; received: number; latency: LatencySummary };
  processes: ProcessUsage[];
  machine: MachineUsage;
}

export async function runReconnect(ctx: BenchContext): Promise<ReconnectResult> {
  const users = ctx.onlineUsers;
  const missedPerUser = ctx.scale.missedPerUser;
  ctx.log(`scenario 4: ${users.length} devices drop, miss ${missedPerUser} events each, reconnect at once`);
  const presence = new PresenceReader(ctx.redis, createKeys(ctx.prefix));
  const missedPhase = 'reconnect-missed';
  await trackPhase(ctx, missedPhase);

  await ctx.stack.all('disconnect', {});
  // The events must be published while Herald sees the devices gone, as after a real drop.
  const deadline = Date.now() + 15_000;
  while ((await presence.onlineAmong(users)).size > 0 && Date.now() < deadline) await sleep(100);
  const stillOnline = (await presence.onlineAmong(users)).size;
  if (stillOnline > 0) ctx.log(`  warning: ${stillOnline} users still look online after disconnecting`);

  await ctx.stack
    .publisher('herald')
    .call('fanOut', { phase: missedPhase, seq: 0, userIds: users, count: missedPerUser, fallback: false });
  await waitForQueuesIdle(ctx, 30_000);
  await sleep(200);

  ctx.sampler.sampleNow();
  const from = Date.now();
  const t0 = performance.timeOrigin + performance.now();
  const results = await ctx.stack.all('reconnect', { timeoutMs: 30_000 }, 60_000);
  const readyAt = concat(results.map((r) => r.readyAt));
  const durations = Float64Array.from(readyAt.filter((t) => !Number.isNaN(t)).map((t) => t - t0));
  const failures = results.reduce((n, r) => n + r.failed, 0);
  const allReconnectedMs = failures === 0 && durations.length > 0 ? round(Math.max(...durations), 1) : null;
  ctx.log(
    `  reconnected ${durations.length}/${users.length} in ${allReconnectedMs ?? 'n/a'} ms` +
      (failures > 0 ? ` (${failures} failed: ${results.flatMap((r) => r.errors).join('; ')})` : ''),
  );

  // Anything that would replay the missed events gets a few seconds to arrive.
  const expected = users.length * missedPerUser;
  await waitForReceipts(ctx, missedPhase, expected, { stallMs: 3_000, maxMs: 10_000 });
  const missed = await collect(ctx, missedPhase);
  ctx.sampler.sampleNow();
  const usage = ctx.sampler.usage(from, Date.now());
  let allCaughtUpMs: number | null = null;
  if (missed.unique === expected && missed.receivedAt.length > 0) {
    allCaughtUpMs = round(Math.max(...missed.receivedAt) - t0, 1);
  }

  const livePhase = 'reconnect-live';
  await trackPhase(ctx, livePhase);
  await ctx.stack
    .publisher('herald')
    .call('fanOut', { phase: livePhase, seq: 0, userIds: users, fallback: false });
  await waitForReceipts(ctx, livePhase, users.length, { stallMs: 3_000, maxMs: 15_000 });
  const live = await collect(ctx, livePhase);
  ctx.log(
    `  missed events received after reconnecting: ${missed.unique}/${expected}; ` +
      `next live event reached ${live.unique}/${users.length}`,
  );

  const catchUpSupported = missed.unique > 0;
  return {
    devices: users.length,
    missedPerUser,
    reconnect: summarize(durations),
    allReconnectedMs,
    reconnectFailures: failures,
    reconnectErrors: [...new Set(results.flatMap((r) => r.errors))],
    catchUpSupported,
    catchUpNote: catchUpSupported
      ? 'missed events were delivered after reconnecting'
      : 'not supported yet: Herald has no per-user inbox or replay (issue 3, delivery guarantees), so events ' +
        'published while a device is disconnected are emitted to an empty room and lost; these events were ' +
        'published with fallback: false, and with the default fallback an offline user would get them by email',
    missedEvents: expected,
    caughtUp: missed.unique,
    lost: expected - missed.unique,
    allCaughtUpMs,
    liveAfterStorm: { expected: users.length, received: live.unique, latency: summarize(live.latencies) },
    processes: usage.processes,
    machine: usage.machine,
  };
}
