import { describe, expect, it } from 'vitest';
import { createKeys, readReplay } from '@herald/core';
import { startRedisCluster, uniquePrefix, uniqueUser, type RedisCluster } from '@herald/testing';
import {
  deliveryProblems,
  openRedis,
  printFigures,
  spawnDispatcher,
  spawnSocketNode,
  startDevice,
  startPublisher,
  useCleanup,
  type RecordedDevice,
  type Where,
} from '../support.js';

const USERS = 24;
const ROUNDS = 30;
const KILL_AFTER_ROUND = 10;

interface Run {
  where: Where;
  users: string[];
  devices: RecordedDevice[];
  /** Users whose keys live on the killed master. */
  doomedUsers: Set<string>;
  failoverMs: number;
  /** Publishes refused (and retried with the same eventId) and their distinct reasons. */
  retries: number;
  reasons: Set<string>;
  /** From the kill to the first publish that resolved after it, for a user of the killed master. */
  publishGapMs: number;
}

/**
 * A socket node, a dispatcher and SDK devices on `cluster`; the test process publishes ROUNDS
 * events to each user one after another (a producer that retries a refused publish with the
 * same eventId, as DESIGN.md asks), and SIGKILLs the master holding `users[0]`'s partition after
 * round KILL_AFTER_ROUND, while events flow.
 */
async function publishThroughAFailover(
  defer: ReturnType<typeof useCleanup>,
  cluster: RedisCluster,
  waitReplicas: number,
): Promise<Run> {
  const where: Where = { prefix: uniquePrefix('failover'), redisUrl: `redis-cluster://${cluster.nodesEnv}` };
  const keys = createKeys(where.prefix);
  const node = await spawnSocketNode(defer, where);
  await spawnDispatcher(defer, where);
  const publisher = startPublisher(defer, where, { waitReplicas });
  const users = Array.from({ length: USERS }, (_, i) => uniqueUser(`f${i}`));
  const doomed = cluster.masterOf(keys.user(users[0] as string));
  const doomedUsers = new Set(users.filter((user) => cluster.masterOf(keys.user(user)).port === doomed.port));
  const devices = users.map((user) => startDevice(defer, node.url, user));
  await Promise.all(devices.map((d) => d.client.ready));

  let retries = 0;
  const reasons = new Set<string>();
  let killedAt = 0;
  let firstAfterKill = 0;
  const publish = async (user: string, round: number) => {
    for (;;) {
      try {
        await publisher
          .toUser(user)
          .emit(
            'xp:gained',
            { amount: 1, source: `round-${round}`, totalXp: round },
            { fallback: false, eventId: `${user}.r${round}` },
          );
        if (killedAt > 0 && firstAfterKill === 0 && doomedUsers.has(user)) firstAfterKill = performance.now();
        return;
      } catch (error) {
        retries += 1;
        reasons.add(String((error as Error).message).slice(0, 90));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  let failover: ReturnType<RedisCluster['killMaster']> | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    await Promise.all(users.map((user) => publish(user, round)));
    if (round === KILL_AFTER_ROUND) {
      killedAt = performance.now();
      failover = cluster.killMaster(doomed);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { failoverMs } = await (failover as NonNullable<typeof failover>);
  return {
    where,
    users,
    devices,
    doomedUsers,
    failoverMs,
    retries,
    reasons,
    publishGapMs: firstAfterKill - killedAt,
  };
}

/** DESIGN.md, Redis Cluster: what a master failover does to publishing, dispatching and delivery. */
describe('a Redis Cluster master SIGKILLed mid-stream', () => {
  const defer = useCleanup();

  it('with waitReplicas 1 loses nothing acknowledged: every device gets every event once, in order', async () => {
    // Two replicas per master: after the failover the new master still has one to WAIT for.
    const cluster = await startRedisCluster({ replicasPerMaster: 2 });
    defer(() => cluster.stop());
    const run = await publishThroughAFailover(defer, cluster, 1);
    expect(run.doomedUsers.size).toBeGreaterThan(0);
    await Promise.all(run.devices.map((d) => d.untilHandled(ROUNDS, 60_000)));
    // Every event once, in publish order, no gap. A herald:sync refused during the takeover is
    // reported to the app (counted below), as while a single Redis restarts; what matters is
    // that the SDK got everything anyway.
    const refusals = run.devices.flatMap((d) => d.errors.filter((e) => e.source !== 'connection'));
    expect(run.devices.flatMap((d) => deliveryProblems({ ...d, errors: [] }, ROUNDS))).toEqual([]);
    printFigures(
      'failover',
      `waitReplicas 1: ${USERS * ROUNDS} events to ${USERS} users (${run.doomedUsers.size} on the killed master), ` +
        `takeover ${run.failoverMs.toFixed(0)} ms, first publish to its users ${run.publishGapMs.toFixed(0)} ms after the kill, ` +
        `${run.retries} publishes refused and retried (${[...run.reasons].join(' | ')}); all delivered once, in order; ` +
        `client error reports: ${refusals.length === 0 ? 'none' : refusals.map((e) => `${e.source}/${e.error.code}`).join(', ')}`,
    );
  });

  it('with waitReplicas 0 delivers everything Redis kept, once and in order, and says what the failover lost', async () => {
    const cluster = await startRedisCluster();
    defer(() => cluster.stop());
    const run = await publishThroughAFailover(defer, cluster, 0);
    const keys = createKeys(run.where.prefix);
    const redis = openRedis(defer, run.where);
    // What survived in Redis: each user's inbox (it holds every event: fewer than HERALD_INBOX_MAX).
    const kept = new Map<string, number[]>();
    for (const user of run.users) {
      const replay = await readReplay(redis, keys, user, 0);
      kept.set(
        user,
        replay.entries.map(
          (entry) => (JSON.parse(entry) as { payload: { totalXp: number } }).payload.totalXp,
        ),
      );
    }
    const lost: string[] = [];
    for (const device of run.devices) {
      const rounds = kept.get(device.userId) ?? [];
      await device.untilHandled(rounds.length, 60_000);
      // Handlers got exactly what Redis kept, in publish order, once.
      expect(device.handled.map((h) => h.payload.totalXp)).toEqual(rounds);
      const missing = Array.from({ length: ROUNDS }, (_, i) => i + 1).filter((r) => !rounds.includes(r));
      // Only a user of the killed master can lose anything: acknowledged writes it had not yet
      // replicated when it died (replication is asynchronous).
      if (missing.length > 0) {
        expect(run.doomedUsers.has(device.userId)).toBe(true);
        lost.push(`${device.userId}: rounds ${missing.join(',')}`);
      }
    }
    printFigures(
      'failover',
      `waitReplicas 0: ${USERS * ROUNDS} events to ${USERS} users (${run.doomedUsers.size} on the killed master), ` +
        `takeover ${run.failoverMs.toFixed(0)} ms, first publish to its users ${run.publishGapMs.toFixed(0)} ms after the kill, ` +
        `${run.retries} publishes refused and retried (${[...run.reasons].join(' | ')}); ` +
        `lost to asynchronous replication: ${lost.length === 0 ? 'nothing this run' : lost.join('; ')}`,
    );
  });
});
