import { freePort } from '@herald/local-redis';
import { SocketNodeEnv } from '@herald/socket-node';
import type { BenchChild, ChildRegistry } from './children.js';
import type { ProcSampler } from './proc-sampler.js';
import type { SocketNodeApi } from './socket-node-process.js';
import type { PublisherApi } from './publisher-process.js';
import type { LoadClientApi } from './load-client.js';
import type { BaselineApi, BaselineKind } from './baseline-server.js';
import { redisEnv, type RedisTarget } from './redis-target.js';
import type { SmtpSinkApi, SunkMail } from './smtp-sink-process.js';

export type BenchPath = 'ceiling' | 'naive' | 'herald';

/**
 * Jobs the dispatcher and the naive worker each run at once, unless `--concurrency` says
 * otherwise: Herald's default (`HERALD_DISPATCHER_CONCURRENCY`), passed to both explicitly
 * so the two queued paths always compare at the same concurrency.
 */
export const DISPATCHER_CONCURRENCY = 32;
export const PATHS: readonly BenchPath[] = ['ceiling', 'naive', 'herald'];

/**
 * Limits of the socket node that would throttle the bench's load, all of which comes
 * from one address (127.0.0.1): the bench measures delivery, not the limiters. Each is
 * raised only when this version of the node knows the variable and accepts the value.
 */
const LIMIT_RAISES: ReadonlyArray<[string, string[]]> = [
  // 0 = no per-address handshake limit; 2,000 clients reconnect at once from one address.
  ['HERALD_HANDSHAKE_RATE', ['0', '1000000']],
  ['HERALD_HANDSHAKE_BURST', ['1000000']],
];

/** The limit variables the bench sets for its socket nodes, and to what. */
export function limitRaises(): Record<string, string> {
  const shape = SocketNodeEnv.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
  const raised: Record<string, string> = {};
  for (const [name, candidates] of LIMIT_RAISES) {
    const schema = shape[name];
    if (!schema) continue;
    const value = candidates.find((candidate) => schema.safeParse(candidate).success);
    if (value !== undefined) raised[name] = value;
  }
  return raised;
}

export interface StackOptions {
  registry: ChildRegistry;
  sampler: ProcSampler;
  redis: RedisTarget;
  prefix: string;
  jwtSecret: string;
  /** `HERALD_DISPATCHER_CONCURRENCY` of the dispatcher, and the naive worker's concurrency. @default DISPATCHER_CONCURRENCY */
  concurrency?: number;
  /** `HERALD_ACK_TIMEOUT_MS` of the dispatcher: how long after an emit its fallback check runs. */
  ackTimeoutMs: number;
  /** The ceiling publisher writes each PUBLISH on its own (no auto-pipelining). @default false */
  ceilingPlain?: boolean;
  /** Herald's scenario-1 events are published with `fallback: false` (a diagnostic). @default false */
  heraldNoFallback?: boolean;
}

export interface NodeHandle {
  name: string;
  child: BenchChild<SocketNodeApi>;
  url: string;
}

/** Starts and stops the bench's processes, and tells the sampler about each. */
export class Stack {
  nodes: NodeHandle[] = [];
  dispatcher: BenchChild | undefined;
  fallbackWorker: BenchChild | undefined;
  smtpSink: BenchChild<SmtpSinkApi> | undefined;
  naiveWorker: BenchChild | undefined;
  readonly publishers = new Map<BenchPath, BenchChild<PublisherApi>>();
  loads: Array<BenchChild<LoadClientApi>> = [];
  readonly limits = limitRaises();

  constructor(private readonly options: StackOptions) {}

  /** Jobs at once for the dispatcher and for the naive worker alike. */
  get concurrency(): number {
    return this.options.concurrency ?? DISPATCHER_CONCURRENCY;
  }

  private get baseEnv(): Record<string, string> {
    return {
      ...redisEnv(this.options.redis),
      HERALD_REDIS_PREFIX: this.options.prefix,
      HERALD_LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    };
  }

  private track(child: { name: string; pid: number }): void {
    this.options.sampler.track(child.name, child.pid);
  }

  async startNodes(count = 2): Promise<void> {
    const started = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const port = await freePort();
        const name = `socket-node-${String.fromCharCode(97 + i)}`;
        const child = this.options.registry.start<SocketNodeApi>({
          name,
          entry: 'bench/src/socket-node-process.ts',
          nodeFlags: ['--expose-gc'],
          rpc: true,
          env: {
            ...this.baseEnv,
            ...this.limits,
            JWT_SECRET: this.options.jwtSecret,
            PORT: String(port),
            HOST: '127.0.0.1',
            HERALD_NODE_ID: `bench-${name}`,
          },
        });
        this.track(child);
        await child.waitReady();
        return { name, child, url: `http://127.0.0.1:${port}` };
      }),
    );
    this.nodes = started;
  }

  async stopNodes(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.child.stop()));
    this.nodes = [];
  }

  /** Starts `apps/dispatcher/src/main.ts`; `nodeFlags` e.g. `--cpu-prof`. */
  async startDispatcher(nodeFlags: string[] = []): Promise<void> {
    this.dispatcher = this.options.registry.start({
      name: nodeFlags.length > 0 ? 'dispatcher (profiled)' : 'dispatcher',
      entry: 'apps/dispatcher/src/main.ts',
      nodeFlags,
      env: {
        ...this.baseEnv,
        HERALD_ACK_TIMEOUT_MS: String(this.options.ackTimeoutMs),
        HERALD_DISPATCHER_CONCURRENCY: String(this.concurrency),
      },
    });
    this.track(this.dispatcher);
    await this.dispatcher.waitForOutput(/dispatcher ready/);
  }

  async stopDispatcher(): Promise<void> {
    await this.dispatcher?.stop();
    this.dispatcher = undefined;
  }

  /** The SMTP server the fallback worker sends to, on a loopback port (`smtp-sink-process.ts`). */
  async startSmtpSink(): Promise<string> {
    const child = this.options.registry.start<SmtpSinkApi>({
      name: 'smtp-sink',
      entry: 'bench/src/smtp-sink-process.ts',
      rpc: true,
      env: { NODE_ENV: 'production' },
    });
    this.track(child);
    await child.waitReady();
    this.smtpSink = child;
    return child.call('url', undefined);
  }

  /** Mails the sink received since the last call (none when no sink runs). */
  async takeMails(): Promise<SunkMail[]> {
    return this.smtpSink ? (await this.smtpSink.call('take', undefined)).mails : [];
  }

  /** Mails the sink received so far. */
  async mailCount(): Promise<number> {
    return this.smtpSink ? this.smtpSink.call('count', undefined) : 0;
  }

  /** Starts `apps/fallback-worker/src/main.ts`, sending its emails to the bench's SMTP sink. */
  async startFallbackWorker(): Promise<void> {
    const smtpUrl = this.smtpSink ? await this.smtpSink.call('url', undefined) : await this.startSmtpSink();
    this.fallbackWorker = this.options.registry.start({
      name: 'fallback-worker',
      entry: 'apps/fallback-worker/src/main.ts',
      env: { ...this.baseEnv, SMTP_URL: smtpUrl, MAIL_FROM: 'Herald bench <herald@bench.example>' },
    });
    this.track(this.fallbackWorker);
    await this.fallbackWorker.waitForOutput(/fallback worker ready/);
  }

  async startNaiveWorker(): Promise<void> {
    this.naiveWorker = this.options.registry.start({
      name: 'naive-worker',
      entry: 'bench/src/naive-worker.ts',
      rpc: true,
      env: { ...this.baseEnv, BENCH_NAIVE_CONCURRENCY: String(this.concurrency) },
    });
    this.track(this.naiveWorker);
    await this.naiveWorker.waitReady();
  }

  async startPublisher(path: BenchPath, nodeFlags: string[] = []): Promise<BenchChild<PublisherApi>> {
    const child = this.options.registry.start<PublisherApi>({
      name: `publisher-${path}${nodeFlags.length > 0 ? ' (profiled)' : ''}`,
      entry: 'bench/src/publisher-process.ts',
      nodeFlags,
      rpc: true,
      env: {
        ...this.baseEnv,
        BENCH_PATH: path,
        BENCH_CEILING_PLAIN: this.options.ceilingPlain ? '1' : '0',
        BENCH_HERALD_NO_FALLBACK: this.options.heraldNoFallback ? '1' : '0',
      },
    });
    this.track(child);
    await child.waitReady();
    this.publishers.set(path, child);
    return child;
  }

  publisher(path: BenchPath): BenchChild<PublisherApi> {
    const child = this.publishers.get(path);
    if (!child) throw new Error(`no ${path} publisher running`);
    return child;
  }

  async startLoads(count = 2): Promise<void> {
    this.loads = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const child = this.options.registry.start<LoadClientApi>({
          name: `load-${i + 1}`,
          entry: 'bench/src/load-client.ts',
          rpc: true,
          env: { NODE_ENV: 'production' },
        });
        this.track(child);
        await child.waitReady();
        return child;
      }),
    );
  }

  async startBaseline(kind: BaselineKind): Promise<{ child: BenchChild<BaselineApi>; port: number }> {
    const child = this.options.registry.start<BaselineApi>({
      name: `baseline-${kind}`,
      entry: 'bench/src/baseline-server.ts',
      nodeFlags: ['--expose-gc'],
      rpc: true,
      env: { BENCH_BASELINE: kind, NODE_ENV: 'production' },
    });
    this.track(child);
    await child.waitReady();
    return { child, port: await child.call('port', undefined) };
  }

  /** Calls every load process with the same arguments and returns their results. */
  all<K extends keyof LoadClientApi>(
    cmd: K,
    args: Parameters<LoadClientApi[K]>[0],
    timeoutMs?: number,
  ): Promise<Array<Awaited<ReturnType<LoadClientApi[K]>>>> {
    return Promise.all(this.loads.map((load) => load.call(cmd, args, timeoutMs)));
  }
}
