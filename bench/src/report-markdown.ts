import type { ProcessUsage } from './proc-sampler.js';
import type { ProfileSummary } from './profile-summary.js';
import type { BenchResults } from './results.js';
import type { StepResult } from './scenario-throughput.js';
import { HOT_PATH_TARGETS } from './targets.js';

const fmt = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || Number.isNaN(value)
    ? 'n/a'
    : value.toLocaleString('en-US', { maximumFractionDigits: digits });

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function verdict(met: boolean | null): string {
  return met === null ? 'not run' : met ? '**met**' : '**missed**';
}

function processTable(columns: Array<{ title: string; usage: ProcessUsage[] }>): string {
  // Restarted processes (profiled runs) get a suffix; strip it so rows line up.
  const key = (name: string) => name.replace(/ \(profiled\)$/, '');
  const names = [...new Set(columns.flatMap((c) => c.usage.map((u) => key(u.name))))].sort();
  return table(
    ['process', ...columns.map((c) => `${c.title}: CPU % / RSS MiB`)],
    names.map((name) => [
      name,
      ...columns.map((c) => {
        const u = c.usage.find((x) => key(x.name) === name);
        return u ? `${fmt(u.cpuPct, 0)} / ${fmt(u.rssMaxMiB, 0)}` : '';
      }),
    ]),
  );
}

function profileTable(profile: ProfileSummary, rows: number): string {
  return table(
    ['self %', 'self ms', 'function', 'area'],
    profile.top.slice(0, rows).map((e) => [fmt(e.selfPct), fmt(e.selfMs, 0), `\`${e.name}\``, e.area]),
  );
}

function stepRow(s: StepResult): string[] {
  return [
    s.path,
    `${fmt(s.targetRate, 0)}${s.kind === 'search' ? ' (search)' : ''}`,
    fmt(s.offeredPerS, 0),
    fmt(s.deliveredPerS, 0),
    fmt(s.latency.p50, 2),
    fmt(s.latency.p95, 2),
    fmt(s.latency.p99, 2),
    fmt(s.latency.max, 1),
    fmt(s.lost, 0),
    fmt(s.duplicates, 0),
    s.path === 'ceiling' ? '–' : fmt(s.queuedAtEnd, 0),
    fmt(s.redisUsecPerEvent, 1),
    fmt(s.redisCpuUsPerEvent, 1),
    fmt(s.loadCpuPct, 0),
    s.path === 'herald' ? fmt(s.acksPerEvent, 2) : '–',
    s.fallback ? `${fmt(s.fallback.emails, 0)} (${fmt(s.fallback.emailsForAckedEvents, 0)})` : '–',
    `${(s.trials ?? [s]).filter((t) => t.sustained).length}/${(s.trials ?? [s]).length}`,
    s.sustained ? 'yes' : `no: ${s.notSustainedBecause.join('; ')}`,
  ];
}

/** The headline figures of the hot-path issue, each beside its target. */
export function headlineLine(r: BenchResults): string {
  const v = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : String(x));
  const redis = Object.entries(r.redisUsPerEvent ?? {})
    .map(([path, us]) => `${path} ${v(us)}`)
    .join(', ');
  return (
    `ratioToCeiling **${v(r.ratioToCeiling)}** (target ≥ ${HOT_PATH_TARGETS.ratioToCeiling}), ` +
    `latencyBoundRatio **${v(r.latencyBoundRatio)}** (≥ ${HOT_PATH_TARGETS.latencyBoundRatio}), ` +
    `p99RatioAt2000 **${v(r.p99RatioAt2000)}** (≤ ${HOT_PATH_TARGETS.p99RatioAt2000}), ` +
    `p99RatioAt500 **${v(r.p99RatioAt500)}** (≤ ${HOT_PATH_TARGETS.p99RatioAt500}), ` +
    `fanoutP99Ratio **${v(r.fanoutP99Ratio)}** (≤ ${HOT_PATH_TARGETS.fanoutP99Ratio}), ` +
    `soakRedisGrowthMbPerMin **${v(r.soakRedisGrowthMbPerMin)}** (≤ ${HOT_PATH_TARGETS.soakRedisGrowthMbPerMin})` +
    (r.clusterMasterCpuSpread == null
      ? ''
      : `, clusterMasterCpuSpread **${v(r.clusterMasterCpuSpread)}** (≤ ${HOT_PATH_TARGETS.clusterMasterCpuSpread})`) +
    (redis ? `; Redis CPU µs per event at 2,000/s (INFO cpu): ${redis}` : '')
  );
}

/** The Markdown report (`bench/results/latest.md`) of one run. */
export function renderMarkdown(r: BenchResults, svgName: string): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`# Herald benchmark: latest run`);
  out.push('');
  out.push(
    `\`${r.command}\` on ${r.startedAt} took ${r.durationS} s (${r.scale} scale), commit ${m.gitCommit}. ` +
      `${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Redis ${r.config.redis.version} ` +
      `(${
        r.config.redis.source === 'env'
          ? 'REDIS_URL'
          : r.config.redis.source === 'cluster'
            ? `private Redis Cluster of ${r.config.redis.masters?.length ?? 'n/a'} masters without replicas, no persistence`
            : 'private redis-server, noeviction, no persistence'
      }).`,
  );
  out.push('');
  out.push(
    `**Machine load**: ${m.note}. Over the run the machine was busy ${fmt(m.duringRun.busyPct, 0)}% of one core ` +
      `(of ${m.cores * 100}%): the bench's processes ${fmt(m.duringRun.benchPct, 0)}%, others ${fmt(m.duringRun.otherPct, 0)}%. ` +
      `Load average before ${m.loadAverageBefore.join(' / ')}, after ${m.loadAverageAfter.join(' / ')}.`,
  );
  out.push('');
  const ceiling = r.maxSustainedPerS.ceiling;
  out.push(
    `**ratioToCeiling: ${r.ratioToCeiling ?? 'n/a'}** (Herald's maximum sustained delivered/s ` +
      `${fmt(r.maxSustainedPerS.herald, 0)} ÷ the ceiling's ${fmt(ceiling, 0)}; ` +
      `naive one-job-per-event ${fmt(r.maxSustainedPerS.naive, 0)}` +
      (r.maxSustainedPerS.naive && ceiling
        ? `, ${fmt((r.maxSustainedPerS.naive / ceiling) * 100, 0)}% of the ceiling`
        : '') +
      `)`,
  );
  out.push('');
  out.push(headlineLine(r));
  out.push('');
  out.push(`![publish→handler latency and delivered/s by offered rate](${svgName})`);
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(
    "Hot path: ratios of Herald to its ceiling (and the soak's growth), all from this run. " +
      'Issue 5: the absolute targets, which move with the machine.',
  );
  out.push('');
  out.push(
    table(
      ['from', 'target', 'measured', 'for comparison', ''],
      r.targets.map((t) => [t.source ?? 'issue 5', t.target, t.measured, t.reference ?? '', verdict(t.met)]),
    ),
  );

  if (r.throughput) {
    out.push('');
    out.push(
      `## Scenario 1: user-targeted events (${fmt(r.config.users, 0)} users, one device each, 2 socket nodes)`,
    );
    out.push('');
    out.push(
      'Paths: **ceiling** emits straight through the sharded emitter (SPUBLISH) into `user:{id}` (no queue); ' +
        '**naive** is one BullMQ job per event (`Queue.add`) and a worker that emits it; **herald** is ' +
        '`@herald/publisher` → partition streams → `apps/dispatcher` → socket nodes. Same clients, same nodes, same Redis: ' +
        "every device is an `@herald/client` (seq order, replay cursor and batched acks for Herald's events, which carry a seq; " +
        "the ceiling's and naive's events carry only an id, which the SDK dedupes by and hands on at once). " +
        `Dispatcher concurrency ${r.config.dispatcherConcurrency}; naive worker concurrency ${r.config.naiveConcurrency}; ` +
        `ceiling publisher: ${r.config.ceilingPublisher}; ` +
        `devices' ackDelayMs ${r.config.clientAckDelayMs ?? 'n/a (plain socket.io-client devices)'}; ` +
        `fallback of Herald's events: ${r.config.heraldScenario1Fallback ?? "the event's default"}. ` +
        "Latency is publish call → the SDK's handler, both stamped with this machine's clock. " +
        `Each step is ${r.throughput.trialsPerStep ?? 1} trial(s) back to back at the same rate; every figure is the median ` +
        "of the trials' figures taken on its own (p50 and p99 may come from different trials), counts of events are " +
        'summed, and a step is sustained when most trials are and none lost an event (*trials sustained*). ' +
        "*Redis CPU µs / event* is Redis's `used_cpu_user + used_cpu_sys` (INFO cpu) over the step, divided by the events. " +
        "*Emails* (Herald): fallback emails for the step's events once their checks ran, and in brackets those for events " +
        'a device had handled in time to ack (must be 0). ' +
        '*Load CPU %* is both load processes together (the SDK clients), in % of one core; ' +
        '*acks / event* is `herald:ack` packets the devices sent per published event (each one a Redis script on a node).',
    );
    out.push('');
    const steps = r.throughput.paths.flatMap((p) => [...p.steps].sort((a, b) => a.targetRate - b.targetRate));
    out.push(
      table(
        [
          'path',
          'offered/s',
          'published/s',
          'delivered/s',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'max ms',
          'lost',
          'dup',
          'queued at end',
          'Redis µs / event (commandstats)',
          'Redis CPU µs / event',
          'load CPU %',
          'acks / event',
          'emails (acked)',
          'trials sustained',
          'sustained',
        ],
        steps.map(stepRow),
      ),
    );
    out.push('');
    out.push(`*Sustained*: ${r.throughput.sustainedDefinition}`);
    out.push('');
    const fb = r.throughput.fallback;
    if (fb) {
      out.push(
        `**Email fallback during the scenario**: Herald's checks ran ${fmt(fb.ackTimeoutMs, 0)} ms after each emit ` +
          `(\`HERALD_ACK_TIMEOUT_MS\`), the devices acked within ${fmt(fb.ackDelayMs, 0)} ms (\`ackDelayMs\`), and the ` +
          `fallback worker sent to an SMTP sink on loopback. Before a step of another path followed one of Herald's, the ` +
          `bench waited for Herald's checks, so only Herald's own later trials carry their cost. An event handled within ` +
          `${fmt(fb.ackedWithinMs, 0)} ms of its publish was acked before its check. Over the scenario: ` +
          `${fmt(fb.tally.emails, 0)} emails, **${fmt(fb.tally.emailsForAckedEvents, 0)} for events acked in time** (must be 0); ` +
          `${fmt(fb.tally.lostEmailed, 0)} of ${fmt(fb.tally.lost, 0)} lost events and ${fmt(fb.tally.lateEmailed, 0)} of ` +
          `${fmt(fb.tally.late, 0)} late ones emailed; ${fmt(fb.tally.duplicateEmails, 0)} duplicate emails.`,
      );
      out.push('');
    }
    const at2k = r.throughput.paths
      .map((p) => ({ p, s: p.steps.find((s) => s.kind === 'fixed' && s.targetRate === 2_000) }))
      .filter((x): x is { p: (typeof x)['p']; s: StepResult } => x.s !== undefined);
    if (at2k.length > 0 && at2k.some(({ s }) => s.redisCommands?.length)) {
      out.push(
        'Redis time per published event during the 2,000/s steps, by command (`INFO commandstats`; Redis is ' +
          'single-threaded, so µs per event caps the rate at 1,000,000 ÷ µs). Redis 7 counts the commands a script ' +
          "runs on their own lines as well as in the script's `evalsha` time, so the total overstates by their share " +
          "(for Herald: the inbox script's `rpush`, `ltrim`, `hincrby`, `expire`…; the ack script's `hget`, `hset`):",
      );
      out.push('');
      out.push(
        table(
          ['path', 'Redis µs / event', 'top commands (calls / event, µs / event)'],
          at2k.map(({ p, s }) => [
            p.path,
            fmt(s.redisUsecPerEvent, 1),
            (s.redisCommands ?? [])
              .slice(0, 10)
              .map((c) => `${c.command} ${fmt(c.callsPerEvent, 2)} / ${fmt(c.usecPerEvent, 1)}`)
              .join('; '),
          ]),
        ),
      );
      out.push('');
    }
    const withMasters = r.throughput.paths.flatMap((p) => p.steps.filter((s) => s.redisCpuPerMaster));
    if (withMasters.length > 0) {
      const masters = [
        ...new Set(withMasters.flatMap((s) => (s.redisCpuPerMaster ?? []).map((m) => m.node))),
      ];
      out.push(
        'Redis CPU per master on the cluster (`INFO cpu` of each master, from before each trial until its events ' +
          "were delivered; µs per published event / % of one core; medians of the trials), and each step's " +
          'spread, max |master − mean| ÷ mean:',
      );
      const placement = r.config.redis.partitionsPerMaster;
      if (placement) {
        out.push('');
        out.push(
          `Partitions per master: ${Object.entries(placement)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(
              ([node, p]) =>
                `${node} ${p.partitions.length}${p.prefixTag ? " and the prefix's own tag" : ''}`,
            )
            .join('; ')}.`,
        );
      }
      out.push('');
      out.push(
        table(
          ['path', 'offered/s', ...masters, 'spread'],
          withMasters.map((s) => {
            const rows = s.redisCpuPerMaster ?? [];
            const mean = rows.reduce((n, m) => n + m.usPerEvent, 0) / Math.max(1, rows.length);
            const spread =
              mean > 0 ? Math.max(...rows.map((m) => Math.abs(m.usPerEvent - mean))) / mean : null;
            return [
              s.path,
              `${fmt(s.targetRate, 0)}${s.kind === 'search' ? ' (search)' : ''}`,
              ...masters.map((node) => {
                const m = rows.find((x) => x.node === node);
                return m ? `${fmt(m.usPerEvent, 1)} / ${fmt(m.cpuPct, 1)}%` : '';
              }),
              spread === null ? 'n/a' : `±${fmt(spread * 100, 0)}%`,
            ];
          }),
        ),
      );
      out.push('');
    }
    if (at2k.length > 0) {
      out.push('CPU (% of one core) and peak RSS per process during the 2,000/s steps:');
      out.push('');
      out.push(processTable(at2k.map(({ p, s }) => ({ title: `${p.path} @ 2,000/s`, usage: s.processes }))));
      out.push('');
    }
    const maxSteps = r.throughput.paths
      .map((p) => ({
        p,
        s: p.steps.filter((s) => s.sustained).sort((a, b) => b.deliveredPerS - a.deliveredPerS)[0],
      }))
      .filter((x): x is { p: (typeof x)['p']; s: StepResult } => x.s !== undefined);
    if (maxSteps.length > 0) {
      out.push("At each path's maximum sustained step:");
      out.push('');
      out.push(
        processTable(
          maxSteps.map(({ p, s }) => ({
            title: `${p.path} @ ${fmt(s.targetRate, 0)}/s`,
            usage: s.processes,
          })),
        ),
      );
      out.push('');
    }
  }

  if (r.profile) {
    const p = r.profile;
    out.push(`## Profile: Herald at ${fmt(p.rate, 0)}/s (\`node --cpu-prof\`)`);
    out.push('');
    out.push(
      `During the profiled step Herald delivered ${fmt(p.step.deliveredPerS, 0)}/s, p99 ${fmt(p.step.latency.p99, 2)} ms, ` +
        `${p.step.lost} lost (profiling slows the profiled processes). Profiles: \`${p.dir.replace(/^.*\/bench\//, 'bench/')}\` (git-ignored).`,
    );
    for (const [title, summary] of [
      ['dispatcher', p.dispatcher],
      ['publisher (Herald)', p.publisher],
    ] as const) {
      if (!summary) continue;
      out.push('');
      out.push(
        `**${title}**: ${fmt(summary.busyMs, 0)} ms busy of ${fmt(summary.wallMs, 0)} ms. By area: ` +
          summary.byArea
            .slice(0, 8)
            .map((a) => `${a.area} ${fmt(a.selfPct)}%`)
            .join(', '),
      );
      out.push('');
      out.push(profileTable(summary, title === 'dispatcher' ? 15 : 10));
    }
    out.push('');
  }

  if (r.fanOut) {
    const f = r.fanOut;
    out.push(`## Scenario 2: one event to ${fmt(f.recipients, 0)} users, ${fmt(f.online, 0)} online`);
    out.push('');
    out.push(
      'Ceiling: one emitter message addressed to every room; naive: one job whose worker emits to each room in turn; ' +
        "herald: `toUsers`, split into slices of 500, sequenced into each user's inbox, emitted to the online users, with delayed ack checks " +
        (r.config.ackTimeoutMs >= 600_000
          ? `(ack timeout ${fmt(r.config.ackTimeoutMs / 60_000, 0)} min, so no check ran during the bench).`
          : `(ack timeout ${fmt(r.config.ackTimeoutMs / 1000, 0)} s; the bench waits for the checks after each Herald run, so the next run ` +
            'does not pay for them; online users have acked, offline ones have no address, so no email is expected).'),
    );
    out.push('');
    out.push(
      table(
        [
          'path',
          'runs',
          'p50 ms',
          'p99 ms (worst run)',
          'max ms (worst run)',
          'lost',
          'publish call ms',
          'emails',
        ],
        f.paths.map((p) => [
          p.path,
          String(p.runs.length),
          fmt(p.latency.p50, 1),
          fmt(p.worstP99Ms, 1),
          fmt(p.worstMaxMs, 1),
          fmt(p.lost, 0),
          p.runs.map((x) => fmt(x.publishMs, 0)).join(', '),
          p.runs.some((x) => x.emails !== undefined) ? p.runs.map((x) => fmt(x.emails, 0)).join(', ') : '–',
        ]),
      ),
    );
    out.push('');
  }

  if (r.reconnect) {
    const c = r.reconnect;
    out.push(
      `## Scenario 4: reconnect storm (${fmt(c.devices, 0)} devices, ${c.missedPerUser} missed events each)`,
    );
    out.push('');
    out.push(
      'Every device (`@herald/client`) drops client side, keeping its cursor; the missed events are published ' +
        'through Herald (`fallback: false`) once presence shows every device offline; then all devices reconnect ' +
        'in the same tick with `lastSeq` in the handshake. Times are from that instant: accepted = `authenticated`, ' +
        "caught up = the device's handler had its last missed event.",
    );
    out.push('');
    out.push(
      table(
        [
          'reconnected (p50 / p99 / all)',
          'failures',
          'caught up per device (p50 / p99 / all)',
          'missed events in handlers',
          'replayed',
          'lost',
          'dup',
          'out of order',
          'syncs',
          'next live event reached',
        ],
        [
          [
            `${fmt(c.reconnect.p50, 0)} / ${fmt(c.reconnect.p99, 0)} / ${fmt(c.allReconnectedMs, 0)} ms`,
            fmt(c.reconnectFailures, 0),
            c.catchUp
              ? `${fmt(c.catchUp.p50, 0)} / ${fmt(c.catchUp.p99, 0)} / ${fmt(c.allCaughtUpMs, 0)} ms`
              : `n/a / n/a / ${fmt(c.allCaughtUpMs, 0)} ms`,
            `${fmt(c.caughtUp, 0)} of ${fmt(c.missedEvents, 0)}`,
            fmt(c.replayed, 0),
            fmt(c.lost, 0),
            fmt(c.duplicates, 0),
            fmt(c.outOfOrder, 0),
            fmt(c.syncs, 0),
            `${fmt(c.liveAfterStorm.received, 0)} of ${fmt(c.liveAfterStorm.expected, 0)} (p99 ${fmt(c.liveAfterStorm.latency.p99, 0)} ms)`,
          ],
        ],
      ),
    );
    out.push('');
    out.push(`Catch-up: ${c.catchUpNote}.`);
    if (c.clientErrors && Object.keys(c.clientErrors).length > 0) {
      out.push('');
      out.push(
        `Client errors during the storm (\`onError\`, by source): ${Object.entries(c.clientErrors)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}` +
          (c.clientErrorSamples.length > 0 ? `; e.g. ${c.clientErrorSamples.slice(0, 3).join(' / ')}` : '') +
          '.',
      );
    }
    if (c.processes.length > 0) {
      out.push('');
      out.push(
        'CPU (% of one core) and peak RSS per process from the reconnect instant until every device had caught up:',
      );
      out.push('');
      out.push(processTable([{ title: 'reconnect storm', usage: c.processes }]));
    }
    out.push('');
  }

  if (r.idleMemory) {
    const im = r.idleMemory;
    out.push(
      `## Scenario 3: idle connections with ${fmt(im.headerBytes, 0)} B of browser-like handshake headers`,
    );
    out.push('');
    out.push(
      'Heap after a full gc (`--expose-gc`), per connection = slope of heapUsed over connections between the bounds. ' +
        'Node A holds the first connections, node B the rest. Baselines get the same clients and headers.',
    );
    out.push('');
    out.push(
      table(
        [
          'server',
          'heap KiB / connection',
          'RSS KiB / connection',
          'external KiB / connection',
          'between',
          'connect failures',
        ],
        [...im.herald, ...im.baselines].map((s) => [
          s.name,
          fmt(s.heapKiBPerConnection, 2),
          fmt(s.rssKiBPerConnection, 2),
          fmt(s.externalKiBPerConnection, 2),
          `${fmt(s.slopeBetween[0], 0)}–${fmt(s.slopeBetween[1], 0)}`,
          fmt(s.connectFailures, 0),
        ]),
      ),
    );
    out.push('');
    out.push(
      'With every connection held: ' +
        im.final
          .map(
            (f) =>
              `${f.name} ${fmt(f.connections, 0)} connections, heap ${fmt(f.heapUsedMiB)} MiB, RSS ${fmt(f.rssMiB)} MiB`,
          )
          .join('; ') +
        `; load processes' RSS ${im.loadRssMiB.map((v) => fmt(v, 0)).join(' / ')} MiB.`,
    );
    out.push('');
    if (im.retained) {
      const rt = im.retained;
      out.push(
        `What an idle Herald connection keeps on the heap: two heap snapshots of a fresh node at ` +
          `${fmt(rt.between[0], 0)} and ${fmt(rt.between[1], 0)} connections, self sizes grouped by constructor ` +
          `(strings by their first characters), per added connection; ${fmt(rt.totalBytesPerConnection / 1024, 2)} KiB in all.`,
      );
      out.push('');
      out.push(
        table(
          ['bytes / connection', 'objects / connection', 'what'],
          rt.entries
            .slice(0, 20)
            .map((e) => [fmt(e.bytesPerConnection, 0), fmt(e.countPerConnection, 2), `\`${e.what}\``]),
        ),
      );
      out.push('');
    }
  }

  if (r.soak) out.push(...soakSection(r));

  out.push('## Set-up');
  out.push('');
  out.push(
    `Everything runs as separate processes on one machine: a Redis, 2 socket nodes (\`startSocketNode\` with the ` +
      `env of \`apps/socket-node\`, through a bench wrapper that only adds a heap-after-gc probe), \`apps/dispatcher\`, ` +
      `\`apps/fallback-worker\`, a naive worker, one publisher process per path and ${r.config.loadProcesses} load ` +
      `processes holding the devices (\`@herald/client\` instances in scenarios 1, 2 and 4; plain socket.io-client ` +
      `connections in scenario 3, as for its baselines). Socket-node limits raised for the bench, since every client ` +
      `comes from 127.0.0.1 and the bench measures delivery, not the limiters: ` +
      (Object.keys(r.config.limitsRaised).length > 0
        ? Object.entries(r.config.limitsRaised)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(', ')
        : 'none needed') +
      '. Raw figures: the JSON file beside this one.',
  );
  if (r.notes.length > 0) {
    out.push('');
    for (const note of r.notes) out.push(`- ${note}`);
  }
  out.push('');
  return out.join('\n');
}

function soakSection(r: BenchResults): string[] {
  const k = r.soak;
  if (!k) return [];
  const out: string[] = [];
  out.push(`## Soak: ${fmt(k.minutes)} min at ${fmt(k.ratePerS, 0)} events/s`);
  out.push('');
  out.push(
    `${fmt(k.recipients, 0)} recipients: ${fmt(k.connected, 0)} with a device (\`@herald/client\`, acking), of which ` +
      `${fmt(k.reconnectGroupSize, 0)} drop and reconnect every ${fmt(k.reconnectEveryMs / 1000, 0)} s (a different group each time; ` +
      `${fmt(k.reconnects, 0)} reconnects, ${fmt(k.reconnectFailures, 0)} failed), and ${fmt(k.neverConnected, 0)} that never connect, ` +
      `whose events carry \`fallback: { email }\`. Recipients are few so that every inbox reaches \`HERALD_INBOX_MAX\` ` +
      `(${fmt(k.inboxMax, 0)}) early: the growth is the least-squares slope of Redis \`used_memory\` from the fill point ` +
      `(${k.fillPoint.note}) to the end, over ${fmt(k.regressionMinutes, 2)} min.`,
  );
  if (k.warning) {
    out.push('');
    out.push(`**Warning**: ${k.warning}.`);
  }
  out.push('');
  out.push(
    table(
      [
        'Redis growth MiB/min',
        'published',
        'to devices / lost',
        'dup / out of order',
        'p50 / p99 ms',
        'emails sent / expected',
        'duplicate emails',
        "emails to devices' users",
        'Redis CPU µs / event',
      ],
      [
        [
          fmt(k.redisGrowthMbPerMin, 3),
          fmt(k.published, 0),
          `${fmt(k.toConnected, 0)} / ${fmt(k.lost, 0)}`,
          `${fmt(k.duplicates, 0)} / ${fmt(k.outOfOrder, 0)}`,
          `${fmt(k.latency.p50, 1)} / ${fmt(k.latency.p99, 1)}`,
          `${fmt(k.emails.sent, 0)} / ${fmt(k.emails.expected, 0)}`,
          fmt(k.emails.duplicates, 0),
          fmt(k.emails.unexpected, 0),
          fmt(k.redisCpuUsPerEvent, 1),
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    'Per minute: ' +
      k.perMinute
        .map((m) => `${m.minute}: p99 ${fmt(m.latency.p99, 1)} ms, ${fmt(m.lost, 0)} lost`)
        .join('; ') +
      '.',
  );
  out.push('');
  if (k.keyGrowth.groups.length > 0) {
    out.push(
      `What grew since the ${k.keyGrowth.since}, by key pattern (ids as \`*\`; bytes estimated from \`MEMORY USAGE\` of up to 20 keys each):`,
    );
    out.push('');
    out.push(
      table(
        ['keys', 'count at the end (change)', 'MiB at the end (change)'],
        k.keyGrowth.groups.map((g) => [
          `\`${g.pattern}\``,
          `${fmt(g.keys, 0)} (${g.keysAdded >= 0 ? '+' : ''}${fmt(g.keysAdded, 0)})`,
          `${fmt(g.bytes / 2 ** 20, 2)} (${g.bytesAdded >= 0 ? '+' : ''}${fmt(g.bytesAdded / 2 ** 20, 2)})`,
        ]),
      ),
    );
    out.push('');
  }
  out.push('RSS per process over the same window (after the fill point):');
  out.push('');
  out.push(
    table(
      ['process', 'RSS MiB at the fill point → end', 'slope MiB/min'],
      k.rssSlopes.map((p) => [p.name, `${fmt(p.startMiB)} → ${fmt(p.endMiB)}`, fmt(p.mibPerMin, 2)]),
    ),
  );
  out.push('');
  return out;
}
