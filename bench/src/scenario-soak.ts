/**
 * Soak (`pnpm bench --scenario soak`): Herald at 300 events/s for `--soak-minutes` (10),
 * to see what grows. Devices ack (the SDK), one group of them drops and reconnects every
 * minute (replay after its cursor), and a tenth of the recipients never connect: their
 * events carry `fallback: { email }`, so each must be emailed once (SMTP sink on loopback).
 *
 * Redis's `used_memory` is sampled throughout; its growth is the least-squares slope from
 * the fill point to the end. Before that point memory grows by design: every recipient's
 * inbox fills to `HERALD_INBOX_MAX` entries and then stays there. The fill point is
 * computed, not guessed: the recipients are few enough that round-robin publishing sends
 * each of them `HERALD_INBOX_MAX` events within the first ~30% of the run, and the point is
 * when the last of them got its `HERALD_INBOX_MAX`th event, plus one ack timeout (by then
 * the first fallback checks have run and left their marks). The same window gives each
 * process's RSS slope.
 */
import { DEFAULT_INBOX_MAX } from '@herald/contracts';
import { sleep, type BenchContext } from './context.js';
import { waitForFallback } from './fallback-audit.js';
import { userOfBenchEmail } from './payload.js';
import type { MachineUsage, ProcessUsage } from './proc-sampler.js';
import { collect, trackPhase, waitForReceipts } from './receipts.js';
import { redisCpuMicros, redisUsedMemory } from './redis-target.js';
import { concat, round, slope, summarize, type LatencySummary } from './stats.js';
import type { RunResult } from './publisher-process.js';
import { keyspaceGrowth, keyspaceSummary, type KeyGroup } from './keyspace.js';

/** Events per second of the soak. */
export const SOAK_RATE = 300;
/** Share of the recipients that never connect (their events are emailed). */
const NEVER_CONNECTED_SHARE = 0.1;
/** The connected devices are split into this many groups; one group reconnects each minute. */
const RECONNECT_GROUPS = 10;
/** How long a reconnecting group stays away. */
const OFFLINE_MS = 2_000;
/** The inboxes should be full by this share of the run (it sets how many recipients there are). */
const FILL_SHARE = 0.3;
const MIB = 2 ** 20;

export interface SoakMinute {
  minute: number;
  published: number;
  received: number;
  lost: number;
  latency: LatencySummary;
}

export interface SoakResult {
  minutes: number;
  ratePerS: number;
  recipients: number;
  connected: number;
  neverConnected: number;
  /** Devices in each reconnecting group, and how often one group reconnects. */
  reconnectGroupSize: number;
  reconnectEveryMs: number;
  reconnects: number;
  reconnectFailures: number;
  inboxMax: number;
  published: number;
  toConnected: number;
  toNeverConnected: number;
  skipped: number;
  publishErrors: number;
  /** Distinct events the connected devices' handlers got. */
  received: number;
  /** Events to connected users that no handler got (must be 0). */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  latency: LatencySummary;
  perMinute: SoakMinute[];
  emails: {
    /** One per event to a never-connected user. */
    expected: number;
    /** Distinct (event, user) emails the sink got for them. */
    sent: number;
    /** Emails beyond the first for one (event, user). */
    duplicates: number;
    /** Emails to connected users (their devices ack; 0 expected unless an event reached them too late). */
    unexpected: number;
  };
  fillPoint: {
    /** Seconds after the soak's start; null when the run ended before it. */
    atS: number | null;
    note: string;
  };
  /** Least-squares slope of `used_memory` after the fill point, MiB per minute. */
  redisGrowthMbPerMin: number | null;
  regressionMinutes: number | null;
  /** `used_memory` samples (seconds after the start, MiB). */
  redisMemory: Array<{ tS: number; mib: number }>;
  /** Each process's RSS slope over the same window, MiB per minute. */
  rssSlopes: Array<{
    name: string;
    mibPerMin: number | null;
    startMiB: number | null;
    endMiB: number | null;
  }>;
  redisCpuUsPerEvent: number;
  /**
   * What grew, by key pattern (ids as `*`): keys and estimated bytes at the end and their
   * change since the fill point (or since the start, when the run ended before it).
   */
  keyGrowth: {
    since: 'fill point' | 'start';
    groups: Array<KeyGroup & { keysAdded: number; bytesAdded: number }>;
  };
  /** Present when Redis is shared (REDIS_URL): `used_memory` then includes others' keys. */
  warning?: string;
  processes: ProcessUsage[];
  machine: MachineUsage;
}

/** Recipients such that each is sent `inboxMax` events within `FILL_SHARE` of the run. */
export function soakRecipients(durationMs: number, inboxMax: number): number {
  const fitting = Math.floor((SOAK_RATE * (durationMs / 1000) * FILL_SHARE) / inboxMax);
  return Math.max(10, Math.min(100, fitting));
}

/** Connects the soak's devices, alternating nodes and load processes, in `RECONNECT_GROUPS` groups. */
async function connectSoakDevices(ctx: BenchContext, users: string[]): Promise<void> {
  const { stack } = ctx;
  const jobs: Array<Promise<{ failed: number; errors: string[] }>> = [];
  users.forEach((userId, i) => {
    const load = stack.loads[i % stack.loads.length];
    const node = stack.nodes[Math.floor(i / stack.loads.length) % stack.nodes.length];
    if (!load || !node) throw new Error('the soak needs load processes and socket nodes');
    jobs.push(
      load.call('connect', {
        url: node.url,
        kind: 'sdk',
        userIds: [userId],
        jwtSecret: ctx.jwtSecret,
        group: `soak-${i % RECONNECT_GROUPS}`,
        ...(ctx.ackDelayMs === undefined ? {} : { ackDelayMs: ctx.ackDelayMs }),
      }),
    );
  });
  const results = await Promise.all(jobs);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0)
    throw new Error(
      `${failed} soak devices could not connect: ${results.flatMap((r) => r.errors).join('; ')}`,
    );
}

export async function runSoak(ctx: BenchContext, minutes: number, sharedRedis: boolean): Promise<SoakResult> {
  const durationMs = Math.round(minutes * 60_000);
  const inboxMax = DEFAULT_INBOX_MAX;
  const recipients = soakRecipients(durationMs, inboxMax);
  const neverCount = Math.max(1, Math.round(recipients * NEVER_CONNECTED_SHARE));
  // Never-connected users spread evenly through the round-robin order.
  const every = Math.round(recipients / neverCount);
  const userIds = Array.from({ length: recipients }, (_, i) =>
    i % every === every - 1 ? `soak-never-${i}` : `soak-user-${i}`,
  );
  const never = userIds.filter((id) => id.startsWith('soak-never-'));
  const connected = userIds.filter((id) => !id.startsWith('soak-never-'));
  const neverSet = new Set(never);
  const reconnectEveryMs = Math.min(60_000, Math.floor(durationMs / 2));
  ctx.log(
    `soak: ${minutes} min at ${SOAK_RATE}/s to ${recipients} users (${connected.length} connected devices acking, ` +
      `${never.length} never connected, emailed), ${Math.ceil(connected.length / RECONNECT_GROUPS)} devices reconnecting ` +
      `every ${reconnectEveryMs / 1000} s`,
  );
  await connectSoakDevices(ctx, connected);

  const keysAtStart = await keyspaceSummary(ctx.redis, ctx.prefix);
  const cpuBefore = await redisCpuMicros(ctx.redis);
  ctx.sampler.sampleNow();
  const start = Date.now();
  // The fill point (see the file's comment): the last recipient got its inboxMax-th event, plus one ack timeout.
  const fillMs = ((recipients * inboxMax) / SOAK_RATE) * 1000 + ctx.audit.ackTimeoutMs;
  const fillAt = start + fillMs;
  let keysAtFill: Promise<KeyGroup[]> | undefined;
  const fillTimer = setTimeout(() => {
    keysAtFill = keyspaceSummary(ctx.redis, ctx.prefix);
  }, fillMs);
  const memory: Array<{ t: number; bytes: number }> = [];
  const sampleEveryMs = Math.min(5_000, Math.max(500, Math.floor(durationMs / 120)));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      memory.push({ t: Date.now(), bytes: await redisUsedMemory(ctx.redis) });
      await sleep(sampleEveryMs);
    }
  })();

  const emailed = new Map<string, number>();
  let unexpectedEmails = 0;
  const takeMails = async () => {
    for (const mail of await ctx.stack.takeMails()) {
      const user = userOfBenchEmail(mail.to);
      if (user === null || !mail.benchId.startsWith('soak-')) continue;
      if (!neverSet.has(user)) {
        unexpectedEmails += 1;
        continue;
      }
      const key = `${mail.benchId}|${user}`;
      emailed.set(key, (emailed.get(key) ?? 0) + 1);
    }
  };

  // One group of devices drops and comes back every `reconnectEveryMs`, a different group each time.
  let reconnects = 0;
  let reconnectFailures = 0;
  const reconnecting = (async () => {
    for (let k = 0; ; k++) {
      const at = start + (k + 1) * reconnectEveryMs - OFFLINE_MS;
      if (at + OFFLINE_MS >= start + durationMs - 1_000) return;
      await sleep(Math.max(0, at - Date.now()));
      const group = `soak-${k % RECONNECT_GROUPS}`;
      await ctx.stack.all('disconnect', { group });
      await sleep(OFFLINE_MS);
      const results = await ctx.stack.all('reconnect', { group, timeoutMs: 30_000 }, 60_000);
      reconnects += 1;
      reconnectFailures += results.reduce((n, r) => n + r.failed, 0);
    }
  })();

  const runs: Array<{ phase: string; run: RunResult }> = [];
  const minutesOut: SoakMinute[] = [];
  const latencies: Float64Array[] = [];
  let received = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  const expectedOf = (published: number) => {
    let n = 0;
    for (let s = 0; s < published; s++) if (!neverSet.has(userIds[s % recipients] as string)) n += 1;
    return n;
  };
  /** Collects a slice's receipts once its events have arrived (bounded), while the next slice runs. */
  const settleSlice = async (index: number, phase: string, run: RunResult) => {
    const expected = expectedOf(run.published);
    await waitForReceipts(ctx, phase, expected, { stallMs: 5_000, maxMs: 60_000 });
    const receipts = await collect(ctx, phase);
    received += receipts.unique;
    duplicates += receipts.duplicates;
    outOfOrder += receipts.outOfOrder;
    latencies.push(receipts.latencies);
    const slice: SoakMinute = {
      minute: index + 1,
      published: run.published,
      received: receipts.unique,
      lost: expected - receipts.unique,
      latency: summarize(receipts.latencies),
    };
    minutesOut.push(slice);
    await takeMails();
    ctx.log(
      `  soak minute ${slice.minute}: published ${slice.published}, received ${slice.received} of ${expected}, ` +
        `p50 ${slice.latency.p50} p99 ${slice.latency.p99} ms, Redis used_memory ` +
        `${round((memory.at(-1)?.bytes ?? 0) / MIB, 1)} MiB, ${emailed.size} emails so far`,
    );
  };

  const settling: Array<Promise<void>> = [];
  for (let index = 0; Date.now() - start < durationMs - 500; index++) {
    const phase = `soak-${index}`;
    await trackPhase(ctx, phase);
    const sliceMs = Math.min(60_000, durationMs - (Date.now() - start));
    const run = await ctx.stack
      .publisher('herald')
      .call(
        'run',
        { phase, rate: SOAK_RATE, durationMs: sliceMs, userIds, emailUsers: never },
        sliceMs + 120_000,
      );
    runs.push({ phase, run });
    settling.push(settleSlice(index, phase, run));
  }
  const endedAt = Date.now();
  await Promise.all(settling);
  await reconnecting;
  ctx.sampler.sampleNow();
  const redisCpuUs = (await redisCpuMicros(ctx.redis)) - cpuBefore;
  sampling = false;
  await sampler;

  // Every never-connected user's event must be emailed once its check has run.
  const lastPublish = Math.max(...runs.map((r) => r.run.endedAt));
  // The emails of the last minutes may still be queued: the fallback worker gets longer than elsewhere.
  await waitForFallback(ctx, lastPublish + ctx.audit.ackTimeoutMs, 180_000);
  await takeMails();

  const published = runs.reduce((n, r) => n + r.run.published, 0);
  const toConnected = runs.reduce((n, r) => n + expectedOf(r.run.published), 0);
  const toNever = published - toConnected;

  clearTimeout(fillTimer);
  const keysAtEnd = await keyspaceSummary(ctx.redis, ctx.prefix);
  const keyGrowth = {
    since: keysAtFill ? ('fill point' as const) : ('start' as const),
    groups: keyspaceGrowth(keysAtFill ? await keysAtFill : keysAtStart, keysAtEnd).slice(0, 12),
  };
  const window = memory.filter((m) => m.t >= fillAt && m.t <= endedAt);
  const windowMinutes = window.length > 1 ? ((window.at(-1)?.t ?? 0) - (window[0]?.t ?? 0)) / 60_000 : 0;
  const enough = window.length >= 4 && windowMinutes >= Math.min(1, (durationMs - fillMs) / 60_000 / 2);
  const growth = enough ? slope(window.map((m) => ({ x: (m.t - start) / 60_000, y: m.bytes / MIB }))) : null;
  const fillNote =
    fillAt >= endedAt
      ? `the run ended before the inboxes were full (${round(fillMs / 1000, 0)} s): no slope`
      : `inboxes full at ${round(fillMs / 1000, 0)} s: ${recipients} recipients × ${inboxMax} events at ${SOAK_RATE}/s, ` +
        `+ the ${ctx.audit.ackTimeoutMs / 1000} s ack timeout`;

  const rssSlopes = ctx.sampler.rssSeries(fillAt, endedAt).map(({ name, points }) => {
    const s =
      points.length >= 4
        ? slope(points.map((p) => ({ x: (p.t - start) / 60_000, y: p.rssKiB / 1024 })))
        : null;
    return {
      name,
      mibPerMin: s === null ? null : round(s, 2),
      startMiB: points[0] ? round(points[0].rssKiB / 1024, 1) : null,
      endMiB: points.at(-1) ? round((points.at(-1)?.rssKiB ?? 0) / 1024, 1) : null,
    };
  });
  const usage = ctx.sampler.usage(start, endedAt);
  let duplicateEmails = 0;
  for (const n of emailed.values()) duplicateEmails += n - 1;
  const lost = toConnected - received;
  const result: SoakResult = {
    minutes,
    ratePerS: SOAK_RATE,
    recipients,
    connected: connected.length,
    neverConnected: never.length,
    reconnectGroupSize: Math.ceil(connected.length / RECONNECT_GROUPS),
    reconnectEveryMs,
    reconnects,
    reconnectFailures,
    inboxMax,
    published,
    toConnected,
    toNeverConnected: toNever,
    skipped: runs.reduce((n, r) => n + r.run.skipped, 0),
    publishErrors: runs.reduce((n, r) => n + r.run.errors, 0),
    received,
    lost,
    duplicates,
    outOfOrder,
    latency: summarize(concat(latencies)),
    perMinute: minutesOut.sort((a, b) => a.minute - b.minute),
    emails: {
      expected: toNever,
      sent: emailed.size,
      duplicates: duplicateEmails,
      unexpected: unexpectedEmails,
    },
    fillPoint: { atS: fillAt < endedAt ? round(fillMs / 1000, 1) : null, note: fillNote },
    redisGrowthMbPerMin: growth === null ? null : round(growth, 3),
    regressionMinutes: enough ? round(windowMinutes, 2) : null,
    redisMemory: memory.map((m) => ({ tS: round((m.t - start) / 1000, 1), mib: round(m.bytes / MIB, 2) })),
    rssSlopes,
    redisCpuUsPerEvent: round(redisCpuUs / Math.max(1, published), 1),
    keyGrowth,
    ...(sharedRedis
      ? {
          warning:
            "REDIS_URL is shared: used_memory includes other clients' keys; run the soak on a private Redis",
        }
      : {}),
    processes: usage.processes,
    machine: usage.machine,
  };
  ctx.log(
    `  soak: ${published} published (${toConnected} to connected devices, ${toNever} to never-connected users), ` +
      `${lost} lost, ${duplicates} duplicates, ${outOfOrder} out of order; emails ${emailed.size} of ${toNever} expected ` +
      `(${duplicateEmails} duplicates, ${unexpectedEmails} to connected users); ${reconnects} reconnects ` +
      `(${reconnectFailures} failed); ${fillNote}; Redis growth ${result.redisGrowthMbPerMin ?? 'n/a'} MiB/min`,
  );
  for (const g of keyGrowth.groups.slice(0, 5)) {
    ctx.log(
      `  keys ${g.pattern}: ${g.keys} (${g.keysAdded >= 0 ? '+' : ''}${g.keysAdded} since the ${keyGrowth.since}), ` +
        `~${round(g.bytes / MIB, 2)} MiB (${g.bytesAdded >= 0 ? '+' : ''}${round(g.bytesAdded / MIB, 2)})`,
    );
  }
  for (const r of rssSlopes) {
    if (r.mibPerMin !== null)
      ctx.log(`  RSS ${r.name}: ${r.startMiB} → ${r.endMiB} MiB, slope ${r.mibPerMin} MiB/min`);
  }
  for (let g = 0; g < RECONNECT_GROUPS; g++) await ctx.stack.all('close', { group: `soak-${g}` });
  return result;
}
