import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { freePort, startRedisServer, type RedisServerChild } from './redis-server-child.js';

/** Redis Cluster's fixed number of hash slots. */
export const CLUSTER_SLOTS = 16_384;

const HOST = '127.0.0.1';
const DIR_PREFIX = 'herald-cluster-';
/** Holds the pid of the process that started the cluster, so a later start can tell an orphan. */
const OWNER_FILE = 'owner.pid';

export type ClusterNodeRole = 'master' | 'replica';

export interface ClusterNode {
  host: string;
  port: number;
  /** The role the node had when the cluster last settled (start-up, or the end of a `killMaster`). */
  role: ClusterNodeRole;
  /** The node's cluster id (`CLUSTER MYID`). */
  id: string;
}

export interface StartRedisClusterOptions {
  /** Masters to create; `redis-cli --cluster create` needs at least 3. @default 3 */
  masters?: number;
  /** Replicas attached to each master. @default 1 */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a node may be unreachable before it counts as failed, so
   * it bounds how long a failover takes. Short, so tests that kill a master stay short.
   * @default 1000
   */
  nodeTimeoutMs?: number;
  /** How long to wait for every node to report the cluster ok and every replica in sync. @default 30_000 */
  startTimeoutMs?: number;
  /** How long `killMaster` waits for a replica to take over the killed master's slots. @default 20_000 */
  failoverTimeoutMs?: number;
  /** @default 'redis-server' */
  redisServer?: string;
  /** @default 'redis-cli' */
  redisCli?: string;
}

export interface FailoverResult {
  /** The node that owns the killed master's slots now. */
  newMaster: ClusterNode;
  /** From the signal to every surviving node reporting `cluster_state:ok` with the new owner. */
  failoverMs: number;
}

export interface RedisCluster {
  /** The nodes still running, with the roles they had when the cluster last settled. */
  readonly nodes: readonly ClusterNode[];
  /** `host:port,…` of every node started, the form `REDIS_CLUSTER_NODES` takes. */
  readonly nodesEnv: string;
  /** The temporary directory holding each node's `nodes.conf`; gone after `stop()`. */
  readonly dir: string;
  /** The master that owns `key`'s hash slot (hash tags honoured), as the cluster last settled. */
  masterOf(key: string): ClusterNode;
  /**
   * Sends `signal` to a master and resolves once one of its replicas owns all its slots and every
   * surviving node reports `cluster_state:ok`. The killed node is not restarted.
   */
  killMaster(node: ClusterNode, signal?: NodeJS.Signals): Promise<FailoverResult>;
  /** Stops every node and removes the cluster's temporary directory. */
  stop(): Promise<void>;
}

interface RunningNode {
  server: RedisServerChild;
  /** For the state checks; never reconnects (a killed node stays dead). */
  admin: Redis;
  lastError?: string;
  role: ClusterNodeRole;
  id: string;
  alive: boolean;
}

/** Slot ranges and the port of the master serving each, from `CLUSTER SLOTS`. */
type SlotMap = { from: number; to: number; masterPort: number }[];

/**
 * Starts a private Redis Cluster on loopback for tests: `masters` masters with
 * `replicasPerMaster` replicas each, every node a `redis-server` child (its own process
 * group and watchdog, as `startRedisServer` starts them) keeping its `nodes.conf` in a fresh
 * temporary directory. Resolves once every node reports `cluster_state:ok` with all 16384
 * slots covered and every replica in sync with its master.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const client = createRedisClient({ kind: 'cluster', nodes: parseRedisClusterNodes(cluster.nodesEnv) });
 * await cluster.killMaster(cluster.masterOf('{herald:3}:stream'));
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const settings = checkOptions(options);
  await checkRedisCli(settings.redisCli);

  await removeOrphanedDirs();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  // stop() removes it; this covers a test process that exits without calling stop(). One killed
  // by a signal runs no handler: the watchdogs stop its nodes, and the next start removes the dir.
  const removeDirOnExit = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDirOnExit);
  const running: RunningNode[] = [];
  const stop = async () => {
    await Promise.all(
      running.map(async (node) => {
        node.alive = false;
        node.admin.disconnect();
        await node.server.stop();
      }),
    );
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDirOnExit);
  };

  try {
    const count = settings.masters * (1 + settings.replicasPerMaster);
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, index) => startClusterNode(settings, join(dir, `node-${index}`))),
    );
    for (const result of started) {
      if (result.status === 'fulfilled') running.push(toRunningNode(result.value));
    }
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;

    await createCluster(settings, running);
    await waitUntil(
      settings.startTimeoutMs,
      () => clusterSettled(running, settings),
      (detail) =>
        new HeraldError(
          HeraldErrorCode.unavailable,
          `Redis Cluster did not come up within ${settings.startTimeoutMs} ms (startTimeoutMs); ` +
            `each node reported: ${detail}`,
        ),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  let slots = await readSlots(running);
  const nodesEnv = running.map((node) => `${HOST}:${node.server.port}`).join(',');
  const view = (node: RunningNode): ClusterNode => ({
    host: HOST,
    port: node.server.port,
    role: node.role,
    id: node.id,
  });
  const byPort = (port: number) => running.find((node) => node.server.port === port);

  return {
    get nodes() {
      return running.filter((node) => node.alive).map(view);
    },
    nodesEnv,
    dir,
    masterOf(key) {
      const slot = keySlot(key);
      const range = slots.find((r) => slot >= r.from && slot <= r.to);
      const owner = range && byPort(range.masterPort);
      if (!owner) throw new Error(`no master owns slot ${slot} of ${key}: the cluster is not settled`);
      return view(owner);
    },
    async killMaster(target, signal = 'SIGKILL') {
      const node = byPort(target.port);
      if (!node?.alive) throw new Error(`killMaster: no running node on port ${target.port}`);
      if (settings.replicasPerMaster === 0) {
        throw new Error(
          'killMaster: this cluster has no replicas (replicasPerMaster: 0), so no failover can follow',
        );
      }
      if ((await roleOf(node)) !== 'master') {
        throw new Error(
          `killMaster: 127.0.0.1:${target.port} is not a master now; pick one with masterOf(key)`,
        );
      }
      const owned = slots.filter((range) => range.masterPort === target.port);
      const firstOwned = owned[0];
      if (!firstOwned)
        throw new Error(`killMaster: 127.0.0.1:${target.port} owns no slots, so nothing fails over`);
      const startedAt = performance.now();
      node.alive = false;
      node.server.process.kill(signal);
      node.admin.disconnect();
      const survivors = running.filter((n) => n.alive);
      await waitUntil(
        settings.failoverTimeoutMs,
        async () => {
          const settled = await clusterOk(survivors, settings);
          if (settled !== true) return settled;
          const now = await readSlots(survivors);
          for (const range of owned) {
            const owner = now.find((r) => range.from >= r.from && range.from <= r.to)?.masterPort;
            if (owner === undefined || owner === target.port) {
              return `slot ${range.from} still served by ${owner === undefined ? 'no node' : `the killed ${owner}`}`;
            }
          }
          return true;
        },
        (detail) =>
          new HeraldError(
            HeraldErrorCode.unavailable,
            `No replica took over 127.0.0.1:${target.port}'s slots within ${settings.failoverTimeoutMs} ms ` +
              `(failoverTimeoutMs): ${detail}`,
          ),
      );
      const failoverMs = Math.round(performance.now() - startedAt);
      slots = await readSlots(survivors);
      await Promise.all(survivors.map(async (n) => void (n.role = await roleOf(n))));
      const newOwner = byPort(
        slots.find((r) => firstOwned.from >= r.from && firstOwned.from <= r.to)?.masterPort ?? -1,
      );
      if (!newOwner)
        throw new Error(
          "killMaster: the new owner of the killed master's slots is not a node of this cluster",
        );
      return { newMaster: view(newOwner), failoverMs };
    },
    stop,
  };
}

/** Removes the directories of clusters whose starting process is gone. */
async function removeOrphanedDirs(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const entry of entries.filter((name) => name.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), entry);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    if (!Number.isInteger(owner) || owner <= 0 || processAlive(owner)) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Settings {
  masters: number;
  replicasPerMaster: number;
  nodeTimeoutMs: number;
  startTimeoutMs: number;
  failoverTimeoutMs: number;
  redisServer: string;
  redisCli: string;
}

function checkOptions(options: StartRedisClusterOptions): Settings {
  const settings: Settings = {
    masters: options.masters ?? 3,
    replicasPerMaster: options.replicasPerMaster ?? 1,
    nodeTimeoutMs: options.nodeTimeoutMs ?? 1_000,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    failoverTimeoutMs: options.failoverTimeoutMs ?? 20_000,
    redisServer: options.redisServer ?? 'redis-server',
    redisCli: options.redisCli ?? 'redis-cli',
  };
  const integer = (name: keyof Settings, min: number, max: number) => {
    const value = settings[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HeraldError(
        HeraldErrorCode.invalidConfig,
        `startRedisCluster: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
      );
    }
  };
  // redis-cli refuses to create a cluster of fewer than 3 masters.
  integer('masters', 3, 16);
  integer('replicasPerMaster', 0, 4);
  integer('nodeTimeoutMs', 100, 60_000);
  integer('startTimeoutMs', 1_000, 600_000);
  integer('failoverTimeoutMs', 1_000, 600_000);
  return settings;
}

async function checkRedisCli(binary: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(binary, ['--version'], { timeout: 5_000 }, (error) => {
      if (!error) return resolve();
      reject(
        new HeraldError(
          HeraldErrorCode.invalidConfig,
          `startRedisCluster needs redis-cli to create the cluster, and '${binary}' (option redisCli) ` +
            `did not run (${error.message}). Install it (apt-get install redis-tools / brew install redis) ` +
            'or pass redisCli with its path.',
          { cause: error },
        ),
      );
    });
  });
}

async function startClusterNode(settings: Settings, dir: string): Promise<RedisServerChild> {
  await mkdir(dir);
  // The bus port defaults to port + 10000, which is past 65535 for much of the ephemeral range
  // freePort() draws from, so it is chosen as well. Either port can be taken between freePort()
  // and the bind: then both are chosen again.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const busPort = await freePort();
    if (busPort === port) continue;
    try {
      return await startRedisServer({
        binary: settings.redisServer,
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(settings.nodeTimeoutMs),
          '--dir',
          dir,
          // A master waits this long (5 s by default) for more replicas before a diskless full
          // sync, which would hold every start-up for it.
          '--repl-diskless-sync-delay',
          '0',
        ],
      });
    } catch (error) {
      if (attempt >= 5 || !/Address already in use/i.test(String(error))) throw error;
    }
  }
}

function toRunningNode(server: RedisServerChild): RunningNode {
  const admin = new Redis(server.port, HOST, {
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    // A stopped (SIGSTOP) node must not hold a state check forever.
    commandTimeout: 1_000,
    connectTimeout: 1_000,
  });
  const node: RunningNode = { server, admin, role: 'master', id: '', alive: true };
  admin.on('error', (error: Error) => {
    node.lastError = error.message;
  });
  return node;
}

async function createCluster(settings: Settings, nodes: RunningNode[]): Promise<void> {
  const args = [
    '--cluster',
    'create',
    ...nodes.map((node) => `${HOST}:${node.server.port}`),
    '--cluster-replicas',
    String(settings.replicasPerMaster),
    '--cluster-yes',
  ];
  const child = spawn(settings.redisCli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // redis-cli waits for the nodes to agree on the configuration; bounded by the start timeout.
  const timer = setTimeout(() => child.kill('SIGKILL'), settings.startTimeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    const tail = output.trim().split('\n').slice(-8).join(' | ');
    throw new HeraldError(
      HeraldErrorCode.unavailable,
      `redis-cli ${args.join(' ')} failed (${signal ?? `code ${String(code)}`}): ${tail}`,
    );
  }
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

async function roleOf(node: RunningNode): Promise<ClusterNodeRole> {
  const role = (await node.admin.call('ROLE')) as [string, ...unknown[]];
  return role[0] === 'master' ? 'master' : 'replica';
}

/** `true` once every node sees the cluster ok, all slots served and all nodes known; else what is missing. */
async function clusterOk(nodes: RunningNode[], settings: Settings): Promise<true | string> {
  const total = settings.masters * (1 + settings.replicasPerMaster);
  const reports = await Promise.all(
    nodes.map(async (node): Promise<string | null> => {
      const name = `${HOST}:${node.server.port}`;
      try {
        const info = String(await node.admin.call('CLUSTER', 'INFO'));
        const state = field(info, 'cluster_state');
        const ok = field(info, 'cluster_slots_ok');
        const known = Number(field(info, 'cluster_known_nodes'));
        if (state !== 'ok' || ok !== String(CLUSTER_SLOTS) || known < total) {
          return `${name} cluster_state:${state} slots_ok:${ok} known_nodes:${known}`;
        }
        return null;
      } catch (error) {
        return `${name} did not answer (${node.lastError ?? (error as Error).message})`;
      }
    }),
  );
  const bad = reports.filter((report) => report !== null);
  return bad.length === 0 ? true : bad.join('; ');
}

/** Cluster ok on every node, the expected number of masters, every replica's link up. */
async function clusterSettled(nodes: RunningNode[], settings: Settings): Promise<true | string> {
  const ok = await clusterOk(nodes, settings);
  if (ok !== true) return ok;
  const problems: string[] = [];
  let masters = 0;
  for (const node of nodes) {
    const name = `${HOST}:${node.server.port}`;
    const replication = String(await node.admin.info('replication'));
    node.id = String(await node.admin.call('CLUSTER', 'MYID'));
    if (field(replication, 'role') === 'master') {
      node.role = 'master';
      masters += 1;
      const replicas = Number(field(replication, 'connected_slaves'));
      if (replicas !== settings.replicasPerMaster) problems.push(`${name} master with ${replicas} replicas`);
    } else {
      node.role = 'replica';
      const link = field(replication, 'master_link_status');
      if (link !== 'up') problems.push(`${name} replica master_link_status:${link}`);
    }
  }
  if (masters !== settings.masters) problems.push(`${masters} masters instead of ${settings.masters}`);
  return problems.length === 0 ? true : problems.join('; ');
}

async function readSlots(nodes: RunningNode[]): Promise<SlotMap> {
  let lastError: unknown;
  for (const node of nodes) {
    if (!node.alive) continue;
    try {
      const reply = (await node.admin.call('CLUSTER', 'SLOTS')) as [
        number,
        number,
        [string, number, ...unknown[]],
      ][];
      return reply
        .map(([from, to, master]) => ({ from, to, masterPort: Number(master[1]) }))
        .sort((a, b) => a.from - b.from);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error('no node of the cluster answered CLUSTER SLOTS', { cause: lastError });
}

/** Polls `check` every 100 ms until it returns true; then the last thing it reported goes into `fail`. */
async function waitUntil(
  timeoutMs: number,
  check: () => Promise<true | string>,
  fail: (detail: string) => Error,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let detail = 'no check ran';
  while (Date.now() < deadline) {
    try {
      const result = await check();
      if (result === true) return;
      detail = result;
    } catch (error) {
      detail = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw fail(detail);
}

/**
 * The hash slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM) of the key, or of its
 * hash tag (the text between the first `{` and the next `}`, when not empty), modulo 16384.
 */
export function keySlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % CLUSTER_SLOTS;
}
