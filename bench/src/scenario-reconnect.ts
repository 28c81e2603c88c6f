/**
 * Scenario 4: reconnect storm. Every connected device (an `@herald/client`) drops
 * (its socket is disconnected client side; the client keeps its cursor in memory),
 * `missedPerUser` events per user are published through Herald while presence shows
 * them all offline, then every device reconnects in the same tick, sending its cursor
 * (`lastSeq`) in the handshake. The nodes replay each user's inbox after the cursor.
 *
 * Measures the time from the reconnect instant until each device was accepted again
 * and until each had every missed event in its handler (caught up), plus what was
 * lost, repeated or out of seq order at the handler. Finally one live event checks
 * that every device receives again.
 */
import { PresenceReader, createKeys } from '@herald/core';
import { monotonicMicros } from './profile-summary.js';
import { sleep, type BenchContext } from './context.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import { waitForQueuesIdle } from './scenario-throughput.js';
import { concat, round, summarize, type LatencySummary } from './stats.js';

/** The target of issue 5: every device caught up within this long. */
const CATCH_UP_TARGET_MS = 5_000;

export interface ReconnectResult {
  devices: number;
  missedPerUser: number;
  /** Time from the reconnect instant until each device was accepted (`authenticated`) again. */
  reconnect: LatencySummary;
  /** Time until the last device was accepted again. */
  allReconnectedMs: number | null;
  reconnectFailures: number;
  reconnectErrors: string[];
  /** Whether missed events were delivered after reconnecting. */
  catchUpSupported: boolean;
  catchUpNote: string;
  missedEvents: number;
  /** Missed events that reached a handler while the devices were still disconnected (should be 0). */
  receivedWhileDisconnected: number;
  caughtUp: number;
  lost: number;
  /** Missed events a handler got twice (the SDK drops repeats by seq). */
  duplicates: number;
  /** Missed events a handler got after a higher seq of the same user. */
  outOfOrder: number;
  /** Missed events that arrived marked `replayed` (from the inbox). */
  replayed: number;
  /** `herald:sync` requests the devices sent during the catch-up. */
  syncs: number;
  /** Per device: time from the reconnect instant until its handler had its last missed event. */
  catchUp: LatencySummary;
  /** Time until every device had caught up (null: some never did). */
  allCaughtUpMs: number | null;
  /** What the SDK clients reported through `onError` during the storm, by source. */
  clientErrors: Record<string, number>;
  clientErrorSamples: string[];
  /**
   * The storm in monotonic µs (the clock of `.cpuprofile` files): from the reconnect
   * instant until the missed events were collected. Cuts the storm out of the profiles of
   * a run with `BENCH_CPU_PROF_DIR`.
   */
  windowUs: { fromUs: number; toUs: number };
  /** The live event after the storm: devices that received it. */
  liveAfterStorm: { expected: number; received: number; latency: LatencySummary };
  processes: ProcessUsage[];
  machine: MachineUsage;
}

type ErrorCounts = Record<string, number>;

async function clientErrors(ctx: BenchContext): Promise<{ counts: ErrorCounts; samples: string[] }> {
  const statuses = await ctx.stack.all('status', undefined);
  const counts: ErrorCounts = {};
  for (const s of statuses) {
    for (const [source, n] of Object.entries(s.sdkErrors)) counts[source] = (counts[source] ?? 0) + (n ?? 0);
  }
  return { counts, samples: statuses.flatMap((s) => s.sdkErrorSamples) };
}

function minus(after: ErrorCounts, before: ErrorCounts): ErrorCounts {
  const out: ErrorCounts = {};
  for (const [source, n] of Object.entries(after)) {
    const d = n - (before[source] ?? 0);
    if (d > 0) out[source] = d;
  }
  return out;
}

export async function runReconnect(ctx: BenchContext): Promise<ReconnectResult> {
  const users = ctx.onlineUsers;
  const missedPerUser = ctx.scale.missedPerUser;
  ctx.log(`scenario 4: ${users.length} devices drop, miss ${missedPerUser} events each, reconnect at once`);
  const presence = new PresenceReader(ctx.redis, createKeys(ctx.prefix));
  const missedPhase = 'reconnect-missed';
  await trackPhase(ctx, missedPhase, { perConnection: true });
  const errorsBefore = await clientErrors(ctx);

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
  const receivedWhileDisconnected = (await ctx.stack.all('count', { phase: missedPhase })).reduce(
    (n, c) => n + c.unique,
    0,
  );

  ctx.sampler.sampleNow();
  const from = Date.now();
  const fromUs = monotonicMicros();
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

  // Replay runs right after each handshake; a stall this long means nothing more is coming.
  const expected = users.length * missedPerUser;
  await waitForReceipts(ctx, missedPhase, expected, { stallMs: 3_000, maxMs: 20_000 });
  const missed = await collect(ctx, missedPhase);
  const windowUs = { fromUs, toUs: monotonicMicros() };
  ctx.sampler.sampleNow();
  const usage = ctx.sampler.usage(from, Date.now());
  const perDevice = Float64Array.from(missed.lastPerConnection, (t) => t - t0);
  let allCaughtUpMs: number | null = null;
  if (missed.unique === expected && missed.receivedAt.length > 0) {
    let last = -Infinity;
    for (const t of missed.receivedAt) if (t > last) last = t;
    allCaughtUpMs = round(last - t0, 1);
  }
  const catchUp = summarize(perDevice);
  ctx.log(
    `  missed events in handlers: ${missed.unique}/${expected} (${missed.replayed} replayed, ` +
      `${missed.duplicates} duplicates, ${missed.outOfOrder} out of order, ${missed.syncsSent} syncs); ` +
      `all caught up in ${allCaughtUpMs ?? 'n/a'} ms (per device p50 ${catchUp.p50} p99 ${catchUp.p99} ms)`,
  );

  const livePhase = 'reconnect-live';
  await trackPhase(ctx, livePhase);
  await ctx.stack
    .publisher('herald')
    .call('fanOut', { phase: livePhase, seq: 0, userIds: users, fallback: false });
  await waitForReceipts(ctx, livePhase, users.length, { stallMs: 3_000, maxMs: 15_000 });
  const live = await collect(ctx, livePhase);
  ctx.log(`  next live event reached ${live.unique}/${users.length}`);
  const errorsAfter = await clientErrors(ctx);
  const errors = minus(errorsAfter.counts, errorsBefore.counts);
  if (Object.keys(errors).length > 0) ctx.log(`  client errors during the storm: ${JSON.stringify(errors)}`);

  const catchUpSupported = missed.unique > 0;
  const lost = expected - missed.unique;
  return {
    devices: users.length,
    missedPerUser,
    reconnect: summarize(durations),
    allReconnectedMs,
    reconnectFailures: failures,
    reconnectErrors: [...new Set(results.flatMap((r) => r.errors))],
    catchUpSupported,
    catchUpNote: !catchUpSupported
      ? 'no missed event reached a handler after reconnecting: the nodes did not replay the inbox'
      : lost === 0 && allCaughtUpMs !== null
        ? `each device sent its cursor (lastSeq) in the handshake and the node replayed its user's inbox after it; ` +
          `all ${users.length.toLocaleString('en-US')} devices had every missed event in their handlers ` +
          `${allCaughtUpMs.toLocaleString('en-US')} ms after the reconnect instant ` +
          `(target ${CATCH_UP_TARGET_MS.toLocaleString('en-US')} ms)`
        : `replay delivered ${missed.unique.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} missed events ` +
          `within the wait (3 s without progress, 20 s at most); ${lost.toLocaleString('en-US')} never reached a handler`,
    missedEvents: expected,
    receivedWhileDisconnected,
    caughtUp: missed.unique,
    lost,
    duplicates: missed.duplicates,
    outOfOrder: missed.outOfOrder,
    replayed: missed.replayed,
    syncs: missed.syncsSent,
    catchUp,
    allCaughtUpMs,
    clientErrors: errors,
    clientErrorSamples: [...new Set(errorsAfter.samples)].slice(0, 10),
    windowUs,
    liveAfterStorm: { expected: users.length, received: live.unique, latency: summarize(live.latencies) },
    processes: usage.processes,
    machine: usage.machine,
  };
}
