import { spawn } from 'node:child_process';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  CLUSTER_SLOTS,
  keySlot,
  startRedisCluster,
  type ClusterNode,
  type RedisCluster,
} from '../src/index.js';

/** A plain connection to one node: it answers for that node only, never follows a redirect. */
function connectTo(node: { port: number }): Redis {
  const redis = new Redis(node.port, '127.0.0.1', { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  return redis;
}

async function field(redis: Redis, section: string, name: string): Promise<string | undefined> {
  const text =
    section === 'cluster' ? String(await redis.call('CLUSTER', 'INFO')) : await redis.info(section);
  return new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

const portAnswers = async (port: number) => {
  const redis = connectTo({ port });
  try {
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
};

describe('startRedisCluster', () => {
  let cluster: RedisCluster;
  const opened: Redis[] = [];
  const open = (node: { port: number }) => {
    const redis = connectTo(node);
    opened.push(redis);
    return redis;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);

  afterAll(async () => {
    for (const redis of opened) redis.disconnect();
    await cluster?.stop();
  });

  it('comes up with 3 masters and 3 replicas in sync, covering all 16384 slots', async () => {
    const masters = cluster.nodes.filter((node) => node.role === 'master');
    const replicas = cluster.nodes.filter((node) => node.role === 'replica');
    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(cluster.nodesEnv).toBe(cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(','));

    for (const node of cluster.nodes) {
      const redis = open(node);
      expect(await field(redis, 'cluster', 'cluster_state')).toBe('ok');
      expect(await field(redis, 'cluster', 'cluster_slots_ok')).toBe(String(CLUSTER_SLOTS));
      if (node.role === 'replica') expect(await field(redis, 'replication', 'master_link_status')).toBe('up');
      else expect(await field(redis, 'replication', 'connected_slaves')).toBe('1');
    }
    const slots = (await open(masters[0]!).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    expect(slots.reduce((sum, [from, to]) => sum + to - from + 1, 0)).toBe(CLUSTER_SLOTS);
    expect(new Set(slots.map(([, , [, port]]) => port))).toEqual(new Set(masters.map((m) => m.port)));
  });

  it('spreads {herald:0} … {herald:15} over more than one master, and masterOf names the one that takes the write', async () => {
    const owners = new Set<number>();
    for (let partition = 0; partition < 16; partition += 1) {
      const key = `{herald:${partition}}:probe`;
      const master = cluster.masterOf(key);
      const redis = open(master);
      expect(Number(await redis.call('CLUSTER', 'KEYSLOT', key))).toBe(keySlot(key));
      // A node that does not own the slot answers MOVED: this write proves masterOf right.
      await redis.set(key, String(partition));
      owners.add(master.port);
    }
    expect(owners.size).toBeGreaterThan(1);
  });

  it('killMaster SIGKILLs a master and resolves once its replica owns its slots', async ({ annotate }) => {
    const key = '{herald:0}:failover';
    const old = cluster.masterOf(key);
    await open(old).set(key, 'before');
    // Replication is asynchronous: wait until the replica has the write, so the check below is fair.
    expect(await open(old).call('WAIT', 1, 2_000)).toBe(1);

    const { newMaster, failoverMs } = await cluster.killMaster(old);
    await annotate(`failover after SIGKILL took ${failoverMs} ms (cluster-node-timeout 1000 ms)`);

    expect(await portAnswers(old.port)).toBe(false);
    expect(newMaster.port).not.toBe(old.port);
    expect(cluster.masterOf(key)).toEqual(newMaster);
    expect(cluster.nodes.map((node) => node.port)).not.toContain(old.port);
    expect(cluster.nodes.filter((node: ClusterNode) => node.role === 'master')).toHaveLength(3);
    const promoted = open(newMaster);
    expect(await field(promoted, 'replication', 'role')).toBe('master');
    expect(await promoted.get(key)).toBe('before');
    await promoted.set(key, 'after');
    for (const node of cluster.nodes) expect(await field(open(node), 'cluster', 'cluster_state')).toBe('ok');
    await expect(cluster.killMaster(old)).rejects.toThrow(/no running node on port/);
  });

  it('stop() ends every node and removes its directory', async () => {
    const ports = cluster.nodes.map((node) => node.port);
    await cluster.stop();
    for (const port of ports) expect(await portAnswers(port)).toBe(false);
    await expect(access(cluster.dir)).rejects.toThrow(/ENOENT/);
  });
});

describe('a cluster whose starter is SIGKILLed', () => {
  it('stops with it, and the next start removes its directory', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/start-cluster-and-wait.ts', import.meta.url));
    const starter = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => starter.once('exit', resolve));
    let started: { ports: number[]; dir: string };
    try {
      started = await new Promise((resolve, reject) => {
        let text = '';
        starter.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n')) resolve(JSON.parse(text) as { ports: number[]; dir: string });
        });
        starter.once('exit', (code) =>
          reject(new Error(`the starter exited (${String(code)}) before printing`)),
        );
      });
    } finally {
      starter.kill('SIGKILL');
      await exited;
    }
    expect(started.ports).toHaveLength(3);
    // The watchdogs notice the closed pipe and SIGTERM their redis-server.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (await Promise.all(started.ports.map(portAnswers))).some(Boolean)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const port of started.ports) expect(await portAnswers(port)).toBe(false);
    await access(started.dir);

    const next = await startRedisCluster({ replicasPerMaster: 0 });
    await next.stop();
    await expect(access(started.dir)).rejects.toThrow(/ENOENT/);
  }, 30_000);
});

describe('startRedisCluster refuses', () => {
  it('to run without redis-cli, saying how to get it', async () => {
    await expect(startRedisCluster({ redisCli: '/nonexistent/redis-cli' })).rejects.toThrow(
      /needs redis-cli .*'\/nonexistent\/redis-cli' \(option redisCli\).*apt-get install redis-tools/,
    );
  });

  it('to wait past startTimeoutMs, saying what each node reported', async () => {
    // A redis-server whose masters hold every replica's first sync for 30 s: the cluster forms,
    // but its replicas never get in sync in time. (A later argument overrides an earlier one.)
    const dir = await mkdtemp(join(tmpdir(), 'herald-slow-sync-'));
    const slowSync = join(dir, 'redis-server');
    await writeFile(slowSync, '#!/bin/sh\nexec redis-server "$@" --repl-diskless-sync-delay 30\n');
    await chmod(slowSync, 0o755);
    try {
      await expect(startRedisCluster({ redisServer: slowSync, startTimeoutMs: 3_000 })).rejects.toThrow(
        /did not come up within 3000 ms \(startTimeoutMs\); each node reported: .*127\.0\.0\.1:\d+ replica master_link_status:down/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('fewer than 3 masters, naming the option', async () => {
    await expect(startRedisCluster({ masters: 2 })).rejects.toThrow(
      /masters must be an integer from 3 to 16, got 2/,
    );
  });
});
