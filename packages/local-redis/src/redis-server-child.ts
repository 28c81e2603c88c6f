import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** Resolves once `url` answers PING, or rejects after `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      redis.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RedisServerChild {
  url: string;
  port: number;
  /** The redis-server process itself (its own process group), e.g. to SIGKILL it in a test. */
  process: ChildProcess;
  /** Stops redis-server with SIGTERM (SIGKILL after 5 s) and resolves once it exited. */
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** @default 'redis-server' */
  binary?: string;
  /**
   * Extra arguments, e.g. `['--appendonly', 'yes', '--dir', dir]`. With
   * `['--requirepass', pw]` the returned `url` includes the password.
   */
  args?: string[];
  port?: number;
}

/**
 * A shell that waits for its stdin to close, then sends SIGTERM to the process group given
 * as `$1`. Its stdin is a pipe from this process, and the kernel closes that pipe however this
 * process ends (SIGKILL and crashes included), which no exit handler can promise. POSIX sh
 * has no other portable way to learn that its parent died (Linux's PR_SET_PDEATHSIG is not
 * reachable from child_process, nor available on macOS).
 */
const WATCHDOG_SCRIPT = 'read _ ; kill -s TERM -- "-$1" 2>/dev/null';

/** Stops each running redis-server of this process, when it exits. */
const stopOnProcessExit = new Set<() => void>();
let exitHandlerInstalled = false;

function ensureExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // 'exit' listeners must be synchronous; they also run on process.exit() and after an
  // uncaught exception, but not when the process is killed by a signal (the watchdog's case).
  process.on('exit', () => {
    for (const stop of stopOnProcessExit) stop();
  });
}

/**
 * Starts a private `redis-server` on a free loopback port. It keeps nothing on
 * disk unless `args` says so and uses `noeviction`, which BullMQ requires.
 *
 * redis-server runs in its own process group, so a terminal's Ctrl+C (SIGINT to the
 * foreground group) reaches only the process that started it, which can then close its
 * connections before calling `stop()`. It never outlives that process: an exit handler
 * stops it, and a small watchdog shell stops it if the process dies without running one.
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerChild> {
  // freePort() only says the port was free a moment ago: a parallel test (or an outgoing
  // connection's ephemeral port) can take it before redis-server binds. Try again then, on
  // a new port, or after a pause on the port that was asked for (a restart on the same port).
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    try {
      return await launchRedisServer(port, options);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= 10) throw error;
      if (options.port !== undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

class PortTakenError extends Error {}

async function launchRedisServer(port: number, options: StartRedisServerOptions): Promise<RedisServerChild> {
  const child = spawn(
    options.binary ?? 'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      ...(options.args ?? []),
    ],
    // detached: a new session and process group, out of reach of the terminal's signals.
    // redis-server logs to stdout (a bind failure included) when it has no logfile.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  // Read so a chatty redis-server never blocks on a full pipe; the start is kept for the
  // error below, the rest dropped.
  let output = '';
  const keep = (chunk: string) => {
    if (output.length < 8_192) output += chunk;
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const diedEarly = exited.then(() => {
    const how = child.signalCode ?? `code ${String(child.exitCode)}`;
    const message = `redis-server on port ${port} exited before answering PING (${how})${output ? `: ${lastLines(output)}` : ''}`;
    throw /Address already in use/i.test(output) ? new PortTakenError(message) : new Error(message);
  });
  diedEarly.catch(() => undefined);

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: it exited between the check and the kill; nothing is left to stop.
    }
  };
  if (child.pid !== undefined) {
    const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'herald-redis-watchdog', String(child.pid)], {
      // detached: Ctrl+C must not end it either.
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    // A missing sh leaves the exit handler as the only guard, as before there was a watchdog.
    watchdog.on('error', () => undefined);
    // Neither the watchdog nor its pipe keeps this process alive; redis-server itself does.
    watchdog.unref();
    // A 'pipe' stdio stream is a net.Socket, though typed as a plain Writable.
    (watchdog.stdin as Socket | null)?.unref();
    const stopOnExit = () => killGroup('SIGTERM');
    stopOnProcessExit.add(stopOnExit);
    ensureExitHandler();
    void exited.then(() => {
      stopOnProcessExit.delete(stopOnExit);
      // Its job is done; SIGKILL before its stdin closes, so it never signals a reused pid.
      watchdog.kill('SIGKILL');
      watchdog.stdin?.destroy();
    });
  }

  // With `--requirepass`, the URL carries the password, so PING (and the caller) can get in.
  const passwordAt = options.args?.indexOf('--requirepass') ?? -1;
  const password = passwordAt >= 0 ? options.args?.[passwordAt + 1] : undefined;
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  const url = `redis://${auth}127.0.0.1:${port}`;
  try {
    await Promise.race([waitForRedis(url), spawnError, diedEarly]);
  } catch (error) {
    killGroup('SIGKILL');
    throw error;
  }
  return {
    url,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // A stopped (SIGSTOP) process keeps a SIGTERM pending until it runs again: resume it
      // first, or a paused redis-server holds the stop for the whole SIGKILL delay.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      // Without persistence it exits within milliseconds; a stuck one must not hold up a stop.
      const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ');
}
