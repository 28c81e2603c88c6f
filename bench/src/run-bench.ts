import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeRedis, type RedisClient } from '@herald/core';
import { DEFAULT_ACK_DELAY_MS } from '@herald/client';
import {
  masterNodes,
  openRedis,
  partitionsPerMaster,
  redisEnv,
  redisServers,
  resolveRedisTarget,
  type RedisTarget,
} from './redis-target.js';
import { ChildRegistry, REPO_ROOT } from './children.js';
import { DEFAULT_SCENARIOS, type BenchOptions, type ScenarioName } from './cli-options.js';
import { ACK_SLACK_MS, FallbackAudit } from './fallback-audit.js';
import { runKeysGlob } from './keyspace.js';
import { FULL_SCALE, QUICK_SCALE, type BenchContext } from './context.js';
import { ProcSampler } from './proc-sampler.js';
import type { BenchResults } from './results.js';
import { runFanOut } from './scenario-fan-out.js';
import { runIdleMemory } from './scenario-idle-memory.js';
import { runProfile } from './scenario-profile.js';
import { runReconnect } from './scenario-reconnect.js';
import { runSoak } from './scenario-soak.js';
import { SUSTAINED_DEFINITION, runThroughput } from './scenario-throughput.js';
import { Stack, type BenchPath } from './stack.js';
import { headlineFigures, judgeTargets, type HeadlineFigures } from './targets.js';
import { writeReports } from './write-reports.js';
import { updateReadme } from './readme-block.js';

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages'], { cwd: REPO_ROOT })
      .toString()
      .trim();
    return dirty ? `${sha} (apps/packages with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

/** Each master's version and name, and its pid when it runs on this machine, so its CPU and RSS are sampled too. */
async function redisInfo(
  redis: RedisClient,
): Promise<{ version: string; servers: Array<{ node: string; pid: number | null }> }> {
  const servers = await redisServers(redis);
  const local = (pid: number) => {
    try {
      return pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis');
    } catch {
      return false;
    }
  };
  return {
    version: servers[0]?.version ?? 'unknown',
    servers: servers.map((s) => ({ node: s.node, pid: local(s.pid) ? s.pid : null })),
  };
}

/**
 * Removes the run's keys (partitions' included) from a Redis the bench did not start (REDIS_URL), in
 * bounded batches, master by master. One key per UNLINK: on a cluster the keys of one batch may
 * lie in different slots.
 */
async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  for (const node of await masterNodes(redis)) {
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await node.scan(cursor, 'MATCH', runKeysGlob(prefix), 'COUNT', 1_000);
      if (keys.length > 0) await Promise.all(keys.map((key) => node.unlink(key)));
      cursor = next;
      if (cursor === '0') break;
    }
  }
}

function otherLoadNote(otherPct: number, cores: number): string {
  if (otherPct < 10)
    return `quiet: other processes used ${otherPct}% of one core on average (of ${cores * 100}%)`;
  return (
    `shared: other processes used ${otherPct}% of one core on average (of ${cores * 100}%) while the bench ran; ` +
    `figures are noisy and should be rerun on a quiet machine`
  );
}

/**
 * Connects one device per online user (an `@herald/client`): alternating nodes, split over
 * the load processes. Logs what holding them costs each load process.
 */
async function connectOnlineUsers(ctx: BenchContext): Promise<string> {
  const { stack } = ctx;
  const started = Date.now();
  const jobs: Array<Promise<{ failed: number; errors: string[] }>> = [];
  stack.loads.forEach((load, l) => {
    stack.nodes.forEach((node, n) => {
      const userIds = ctx.onlineUsers.filter(
        (_, j) =>
          j % stack.nodes.length === n && Math.floor(j / stack.nodes.length) % stack.loads.length === l,
      );
      jobs.push(
        load.call('connect', {
          url: node.url,
          kind: 'sdk',
          userIds,
          jwtSecret: ctx.jwtSecret,
          concurrency: 50,
          group: 'online',
          ...(ctx.ackDelayMs === undefined ? {} : { ackDelayMs: ctx.ackDelayMs }),
        }),
      );
    });
  });
  const results = await Promise.all(jobs);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) {
    throw new Error(`${failed} devices could not connect: ${results.flatMap((r) => r.errors).join('; ')}`);
  }
  const statuses = await ctx.stack.all('status', undefined);
  const note =
    `connected ${ctx.onlineUsers.length} devices (@herald/client) in ${Date.now() - started} ms; ` +
    statuses
      .map(
        (s, i) =>
          `load-${i + 1} holds ${s.connections} clients: heap ${Math.round(s.memory.heapUsed / 2 ** 20)} MiB, ` +
          `RSS ${Math.round(s.memory.rss / 2 ** 20)} MiB`,
      )
      .join('; ');
  ctx.log(note);
  return note;
}

function race<T>(registry: ChildRegistry, work: Promise<T>): Promise<T> {
  return Promise.race([work, registry.watch()]);
}

/**
 * Runs the bench: a Redis, the processes each selected scenario needs, the scenarios
 * in order (throughput, profile, fan-out, reconnect storm, idle memory), then stops
 * every child and writes the JSON, Markdown and SVG reports. Resolves to the results.
 */
export async function runBench(options: BenchOptions, log: (line: string) => void): Promise<BenchResults> {
  const base = options.quick ? QUICK_SCALE : FULL_SCALE;
  const scale = {
    ...base,
    rates: options.rates ?? base.rates,
    searchSteps: options.searchSteps ?? base.searchSteps,
    stepMs: options.stepMs ?? base.stepMs,
    searchStepMs: options.stepMs ?? base.searchStepMs,
  };
  const ackDelayMs = options.ackDelayMs ?? DEFAULT_ACK_DELAY_MS;
  if (ackDelayMs + ACK_SLACK_MS >= options.ackTimeoutMs) {
    throw new Error(
      `--ack-timeout-ms ${options.ackTimeoutMs} leaves the devices no time to ack: it must exceed their ackDelayMs ` +
        `(${ackDelayMs}) + ${ACK_SLACK_MS}, or every event would be emailed`,
    );
  }
  const startedAt = new Date();
  const t0 = Date.now();
  const stamp = (line: string) =>
    log(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] ${line}`);
  const loadBefore = os.loadavg().map((v) => Math.round(v * 100) / 100);
  // Read before anything starts: the processes load the working tree as it is now.
  const commitAtStart = gitCommit();
  const registry = new ChildRegistry();
  const sampler = new ProcSampler(500);
  const onExit = () => registry.killAllNow();
  process.on('exit', onExit);

  const has = (s: ScenarioName) => options.scenarios.includes(s);
  const paths = options.paths;
  const needsOnline = has('throughput') || has('fanout') || has('reconnect');
  const needsHerald = paths.includes('herald') || has('reconnect') || has('soak');
  const publisherPaths: BenchPath[] = needsOnline ? [...paths] : [];
  if ((has('reconnect') || has('soak')) && !publisherPaths.includes('herald')) publisherPaths.push('herald');
  const needsNodes = needsOnline || has('soak');

  let resolved: RedisTarget | undefined;
  let redis: RedisClient | undefined;
  const prefix = `{bench-${randomBytes(4).toString('hex')}}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const deadline = setTimeout(() => {
    log(`aborting: the run took longer than --max-minutes ${options.maxMinutes}`);
    registry.killAllNow();
    process.exit(2);
  }, options.maxMinutes * 60_000);
  deadline.unref();

  try {
    resolved = await resolveRedisTarget(options.redis);
    redis = openRedis(resolved);
    const info = await redisInfo(redis);
    const where =
      resolved.source === 'env'
        ? 'REDIS_URL'
        : resolved.source === 'cluster'
          ? `a private Redis Cluster, ${info.servers.length} masters without replicas: ${info.servers.map((s) => s.node).join(', ')}`
          : 'a private redis-server';
    stamp(`redis ${info.version} (${where}), prefix ${prefix}`);
    const placement = await partitionsPerMaster(redis, prefix);
    if (placement) {
      stamp(
        `partitions per master: ${Object.entries(placement)
          .map(
            ([node, p]) =>
              `${node} ${p.partitions.length} (${p.partitions.join(',')})${p.prefixTag ? ` + ${prefix}` : ''}`,
          )
          .join('; ')}`,
      );
    }
    sampler.track('orchestrator', process.pid);
    for (const server of info.servers) {
      if (!server.pid) continue;
      sampler.track(resolved.kind === 'cluster' ? `redis-master ${server.node}` : 'redis-server', server.pid);
    }
    sampler.start();

    const stack = new Stack({
      registry,
      sampler,
      redis: resolved,
      prefix,
      jwtSecret,
      concurrency: options.concurrency,
      ackTimeoutMs: options.ackTimeoutMs,
      ceilingPlain: options.ceilingPlain,
      heraldNoFallback: options.heraldNoFallback,
    });
    const ctx: BenchContext = {
      stack,
      registry,
      sampler,
      scale,
      redis,
      prefix,
      jwtSecret,
      ackDelayMs: options.ackDelayMs,
      trials: options.trials,
      audit: new FallbackAudit(options.ackTimeoutMs, ackDelayMs),
      onlineUsers: Array.from({ length: scale.users }, (_, i) => `user-${i}`),
      log: stamp,
    };
    if (Object.keys(stack.limits).length > 0) {
      stamp(`socket-node limits raised for the bench: ${JSON.stringify(stack.limits)}`);
    }

    if (options.traceStages) {
      const file = path.resolve(options.traceStages);
      registry.start({
        name: 'stage-tracer',
        entry: 'bench/src/stage-tracer.ts',
        env: {
          ...redisEnv(resolved),
          BENCH_TRACE_PREFIX: prefix,
          BENCH_TRACE_OUT: file,
          BENCH_TRACE_USERS: String(scale.users),
        },
      });
      stamp(`tracing Herald's stages into ${file} (a diagnostic: it costs CPU)`);
    }
    stamp('starting processes');
    await race(
      registry,
      Promise.all([
        needsNodes ? stack.startNodes(2) : Promise.resolve(),
        needsHerald ? stack.startDispatcher() : Promise.resolve(),
        needsHerald ? stack.startFallbackWorker() : Promise.resolve(),
        needsOnline && paths.includes('naive') ? stack.startNaiveWorker() : Promise.resolve(),
        ...publisherPaths.map((p) => stack.startPublisher(p)),
        stack.startLoads(2),
      ]),
    );
    stamp(`started ${registry.running().length} processes`);
    const connectNote = needsOnline ? await race(registry, connectOnlineUsers(ctx)) : undefined;

    const results: Omit<
      BenchResults,
      'finishedAt' | 'durationS' | 'machine' | 'targets' | keyof HeadlineFigures
    > = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
      scale: scale.name,
      scenarios: options.scenarios,
      paths,
      config: {
        socketNodes: 2,
        users: scale.users,
        loadProcesses: 2,
        redis: {
          source: resolved.source,
          version: info.version,
          ...(placement
            ? {
                masters: info.servers.map((s) => s.node),
                replicasPerMaster: 0,
                partitionsPerMaster: placement,
              }
            : {}),
        },
        limitsRaised: stack.limits,
        dispatcherConcurrency: stack.concurrency,
        naiveConcurrency: stack.concurrency,
        ackTimeoutMs: options.ackTimeoutMs,
        trialsPerStep: options.trials,
        ceilingPublisher: options.ceilingPlain ? 'one write per PUBLISH' : 'auto-pipelined connection',
        clientAckDelayMs: options.ackDelayMs ?? `default (${DEFAULT_ACK_DELAY_MS})`,
        heraldScenario1Fallback: options.heraldNoFallback ? 'none (fallback: false)' : "the event's default",
        sustainedDefinition: SUSTAINED_DEFINITION,
      },
      maxSustainedPerS: {},
      notes: connectNote ? [connectNote] : [],
    };

    if (has('throughput')) {
      results.throughput = await race(registry, runThroughput(ctx, paths));
      for (const p of results.throughput.paths) results.maxSustainedPerS[p.path] = p.maxSustainedPerS;
      const herald = results.throughput.paths.find((p) => p.path === 'herald');
      if (options.profile && herald) {
        const rate = herald.maxSustainedTargetRate ?? 2_000;
        const dir = path.join(
          REPO_ROOT,
          'bench',
          'results',
          'profiles',
          startedAt.toISOString().replace(/[:.]/g, '-'),
        );
        results.profile = await race(registry, runProfile(ctx, rate, dir));
      }
      // The profile's checks run before the next scenario, not during it.
      await race(registry, ctx.audit.settle(ctx));
    }
    if (has('fanout')) results.fanOut = await race(registry, runFanOut(ctx, paths));
    if (has('reconnect')) results.reconnect = await race(registry, runReconnect(ctx));
    if (has('memory'))
      results.idleMemory = await race(registry, runIdleMemory(ctx, { heapSnapshots: options.heapSnapshots }));
    if (has('soak')) {
      results.soak = await race(registry, runSoak(ctx, options.soakMinutes, resolved.source === 'env'));
    }

    stamp('stopping processes');
    await registry.stopAll();
    sampler.sampleNow();
    const duringRun = sampler.usage(t0, Date.now()).machine;
    const outcome = {
      throughput: results.throughput,
      fanOut: results.fanOut,
      idleMemory: results.idleMemory,
      reconnect: results.reconnect,
      soak: results.soak,
    };
    const finished: BenchResults = {
      ...headlineFigures(outcome),
      ...results,
      finishedAt: new Date().toISOString(),
      durationS: Math.round((Date.now() - t0) / 1000),
      machine: {
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
        node: process.version,
        kernel: `${os.type()} ${os.release()}`,
        gitCommit: commitAtStart,
        loadAverageBefore: loadBefore,
        loadAverageAfter: os.loadavg().map((v) => Math.round(v * 100) / 100),
        duringRun,
        note: otherLoadNote(duringRun.otherPct, duringRun.cores),
      },
      targets: judgeTargets(outcome),
    };
    const written = await writeReports(finished, options.outDir ?? defaultOutDir(options.quick));
    // Only a full run into the committed results updates the README's figures.
    if (
      !options.quick &&
      options.outDir === undefined &&
      DEFAULT_SCENARIOS.every((name) => options.scenarios.includes(name)) &&
      options.rates === undefined &&
      options.searchSteps === undefined &&
      options.stepMs === undefined &&
      options.ackDelayMs === undefined &&
      !options.heraldNoFallback
    ) {
      const readme = path.join(REPO_ROOT, 'README.md');
      if (await updateReadme(readme, finished)) written.push(readme);
    }
    stamp(`wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
    return finished;
  } finally {
    clearTimeout(deadline);
    sampler.stop();
    await registry.stopAll().catch(() => registry.killAllNow());
    if (redis && resolved?.source === 'env') await deletePrefix(redis, prefix).catch(() => undefined);
    if (redis) await closeRedis(redis);
    await resolved?.stop();
    process.off('exit', onExit);
  }
}

function defaultOutDir(quick: boolean): string {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  return quick ? path.join(dir, 'quick') : dir;
}
