import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRpcReady, isRpcResponse, type RpcApi, type RpcArgs, type RpcResult } from './rpc.js';

/** The repository root: children run from there so `tsx` and workspace packages resolve. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXIT_WITH_PARENT = fileURLToPath(new URL('./exit-with-parent.ts', import.meta.url));

/** How much of a child's output is kept for error messages. */
const OUTPUT_KEEP_CHARS = 64 * 1024;

/**
 * `BENCH_CPU_PROF_DIR=/tmp/x pnpm bench …` (a diagnostic) runs every child under
 * `node --cpu-prof`, one directory per child name (a child's profile is written when it
 * exits through process.exit, as every bench child does). Node refuses `--cpu-prof` in
 * NODE_OPTIONS, hence this variable.
 */
function profileFlags(spec: ChildSpec): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  if (!dir || spec.nodeFlags?.includes('--cpu-prof')) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${dir}/${spec.name.replace(/[^\w.-]+/g, '_')}`];
}

export interface ChildSpec {
  /** Shown in reports and error messages, e.g. `socket-node-a`. */
  name: string;
  /** A TypeScript entry point, relative to the repository root. */
  entry: string;
  /** Node flags placed before `--import tsx`, e.g. `--expose-gc`, `--cpu-prof`. */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** Whether the entry serves RPC (bench processes); apps only get the exit-with-parent hook. @default false */
  rpc?: boolean;
}

/**
 * One child process of the bench: a Herald app (`apps/<app>/src/main.ts`, unchanged)
 * or one of the bench's own processes. Every child has an IPC channel, so it exits
 * when the orchestrator does, even when the orchestrator is killed.
 */
export class BenchChild<Api extends RpcApi = RpcApi> {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private text = '';
  private readonly wakers = new Set<() => void>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stopping = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readyResolve: (() => void) | undefined;
  private readonly readyPromise: Promise<void>;

  constructor(
    spec: ChildSpec,
    private readonly onUnexpectedExit: (child: BenchChild, why: string) => void,
  ) {
    this.name = spec.name;
    const args = [...(spec.nodeFlags ?? []), ...profileFlags(spec), '--import', 'tsx'];
    if (!spec.rpc) args.push('--import', EXIT_WITH_PARENT);
    args.push(spec.entry);
    this.process = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.readyPromise = new Promise<void>((resolve) => (this.readyResolve = resolve));
    const onData = (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      if (this.text.length > OUTPUT_KEEP_CHARS * 2) this.text = this.text.slice(-OUTPUT_KEEP_CHARS);
      for (const wake of this.wakers) wake();
    };
    this.process.stdout?.on('data', onData);
    this.process.stderr?.on('data', onData);
    this.process.on('message', (message: unknown) => {
      if (isRpcReady(message)) this.readyResolve?.();
      else if (isRpcResponse(message)) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (!waiter) return;
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`${this.name}: ${message.error}`));
      }
    });
    // Without a listener a failed IPC write (child gone) would throw in the orchestrator.
    this.process.on('error', (error) => {
      this.text += `\n[spawn error] ${error.message}\n`;
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        const why = `${this.name} exited (code ${String(code)}, signal ${String(signal)})`;
        for (const waiter of this.pending.values()) waiter.reject(new Error(`${why}\n${this.tail()}`));
        this.pending.clear();
        for (const wake of this.wakers) wake();
        if (!this.stopping) this.onUnexpectedExit(this, why);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last lines the child printed, for error messages. */
  tail(lines = 30): string {
    return this.text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Resolves when the child printed a line matching `pattern` (apps log `… ready`). */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`${this.name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${this.tail()}`),
        );
      }, timeoutMs);
      const check = () => {
        if (pattern.test(this.text)) {
          done();
          resolve();
        } else if (!this.alive) {
          done();
          reject(new Error(`${this.name} exited before printing ${String(pattern)}:\n${this.tail()}`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(check);
      };
      this.wakers.add(check);
      check();
    });
  }

  /** Resolves when an RPC child announced itself ready. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.readyPromise,
        this.exited.then(() => {
          throw new Error(`${this.name} exited before it was ready:\n${this.tail()}`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.tail()}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `cmd` in the child and resolves with its result. */
  call<K extends keyof Api & string>(
    cmd: K,
    args: RpcArgs<Api, K>,
    timeoutMs = 180_000,
  ): Promise<RpcResult<Api, K>> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running:\n${this.tail()}`));
    const id = this.nextId++;
    return new Promise<RpcResult<Api, K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as RpcResult<Api, K>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.process.send({ id, cmd, args }, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name}: could not send ${cmd}: ${error.message}`));
      });
    });
  }

  /** Sends `signal`, waits for the exit, and SIGKILLs after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    if (!this.alive) return;
    this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Every child the bench started, so one call stops them all on the way out
 * (normal end, error, Ctrl+C). A child that dies on its own fails the run.
 */
export class ChildRegistry {
  private readonly children = new Set<BenchChild>();
  private failure: Error | undefined;
  private failWaiters = new Set<(error: Error) => void>();

  start<Api extends RpcApi = RpcApi>(spec: ChildSpec): BenchChild<Api> {
    const child = new BenchChild<Api>(spec, (dead, why) => {
      this.failure ??= new Error(`${why}; its last output:\n${dead.tail()}`);
      for (const fail of this.failWaiters) fail(this.failure);
    });
    this.children.add(child);
    void child.exited.then(() => this.children.delete(child as unknown as BenchChild));
    return child;
  }

  /** Rejects as soon as any child dies unexpectedly; race scenario work against it. */
  watch(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.failure) reject(this.failure);
      else this.failWaiters.add(reject);
    });
  }

  /** Throws when a child died unexpectedly. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Children still running (pids for the /proc sampler). */
  running(): BenchChild[] {
    return [...this.children].filter((c) => c.alive);
  }

  async stopAll(timeoutMs = 10_000): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop('SIGTERM', timeoutMs)));
  }

  /** Last resort on process exit: synchronous SIGKILL of whatever still runs. */
  killAllNow(): void {
    for (const child of this.children) {
      if (child.alive) child.process.kill('SIGKILL');
    }
  }
}
