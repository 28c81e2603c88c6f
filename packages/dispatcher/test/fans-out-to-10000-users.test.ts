import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData, type FallbackOption } from '@herald/contracts';
import { mintToken, spawnApp, uniqueUser, type AppProcess, type Device } from '@herald/testing';
import { device, startStack, streamsSettled, useCleanup } from './support.js';

const TOTAL_USERS = 10_000;
const CONNECTED = 200;

/** Resolves with the time the last of `devices` received its next `event`. */
function lastArrival(devices: Device[], event: string, timeoutMs = 60_000): Promise<number> {
  let arrived = 0;
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${arrived} of ${devices.length} devices received ${event}`)),
      timeoutMs,
    );
    for (const d of devices) {
      d.socket.once(event, () => {
        arrived += 1;
        if (arrived === devices.length) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      });
    }
  });
}

const mib = (kib: number) => Math.round(kib / 102.4) / 10;

describe('fan-out', () => {
  const defer = useCleanup();
  let dispatcher: AppProcess | undefined;
  afterAll(async () => {
    await dispatcher?.stop();
  });

  it('one toUsers to 10,000 users reaches all 200 connected ones, across two nodes', async (context) => {
    const { urls, publisher, prefix, redisUrl, redis, keys } = await startStack(defer, {
      nodes: 2,
      dispatcher: false,
    });
    // A real dispatcher process, so its memory can be read on its own.
    dispatcher = spawnApp('dispatcher', {
      REDIS_URL: redisUrl,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_LOG_LEVEL: 'info',
    });
    const running = dispatcher;
    defer(() => running.stop());
    const fallback = new Queue(QueueName.fallback, { connection: redis, prefix });
    defer(() => fallback.close());
    // Thousands of jobs: remove them rather than leave them in a shared Redis.
    defer(() => fallback.obliterate({ force: true }));
    await dispatcher.waitForOutput(/dispatcher ready/, 30_000);

    const users = Array.from({ length: TOTAL_USERS }, (_, i) => uniqueUser(`fan${i}`));
    // Connected users spread through the list, so every chunk of the split has some.
    const connectedUsers = users.filter((_, i) => i % (TOTAL_USERS / CONNECTED) === 0);
    const devices: Device[] = [];
    for (let i = 0; i < connectedUsers.length; i += 20) {
      const batch = connectedUsers.slice(i, i + 20);
      devices.push(
        ...(await Promise.all(
          batch.map((u, j) => device(urls[(i + j) % 2] as string, defer, { token: mintToken(u) })),
        )),
      );
    }
    expect(devices).toHaveLength(CONNECTED);
    const startupPeakKiB = await dispatcher.peakRssKiB();

    /** Publishes one notification to all 10,000 and returns publish→last receipt in ms. */
    const fanOut = async (round: number, fallbackOption: FallbackOption | undefined) => {
      const payload = { notification: { id: `fan-${round}`, title: `Season results ${round}` } };
      const arrivals = lastArrival(devices, 'notification:new');
      const start = performance.now();
      const id = await publisher
        .toUsers(users)
        .emit('notification:new', payload, fallbackOption === undefined ? {} : { fallback: fallbackOption });
      const end = await arrivals;
      for (const d of devices) {
        const got = d.received.filter((r) => r.event === 'notification:new');
        expect(got).toHaveLength(round);
        expect(got[round - 1]?.args[0]).toEqual(payload);
        expect(got[round - 1]?.args[1]).toMatchObject({ id });
      }
      await streamsSettled(redis, keys);
      return Math.round(end - start);
    };

    // Live delivery only, then the default for notification:new: every user also gets a fallback
    // check (sent only if no device acks); the checks of entries delivered together share a
    // delayed job, so there are at most as many as entries.
    const liveOnlyMs = await fanOut(1, false);
    const entries = (await streamsSettled(redis, keys)).added;
    const withFallbacksMs = await fanOut(2, undefined);
    const backlog = await streamsSettled(redis, keys);
    expect(backlog.dead).toBe(0);
    const fallbackJobs = (await fallback.getJobCounts('delayed')).delayed ?? 0;
    expect(fallbackJobs).toBeGreaterThan(0);
    expect(fallbackJobs).toBeLessThanOrEqual(backlog.added - entries);
    const scheduled = (await fallback.getJobs(['delayed'])).flatMap((j) =>
      (j.data as FallbackJobData).checks.flatMap((c) => c.userIds),
    );
    expect(new Set(scheduled).size).toBe(TOTAL_USERS);
    expect(scheduled).toHaveLength(TOTAL_USERS);

    const peakRssKiB = await dispatcher.peakRssKiB();
    const figures = {
      liveOnlyMs,
      withFallbacksMs,
      dispatcherStartupPeakRssMiB: mib(startupPeakKiB),
      dispatcherPeakRssMiB: mib(peakRssKiB),
    };
    context.task.meta.figures = figures;
    process.stdout.write(
      `\n[fan-out] toUsers(${TOTAL_USERS}) as ${entries} stream entries, ${CONNECTED} devices connected over 2 nodes: ` +
        `publish→last receipt ${liveOnlyMs} ms (fallback: false), ` +
        `${withFallbacksMs} ms (default email fallback: ${TOTAL_USERS} users' ack checks in ${fallbackJobs} fallback jobs); ` +
        `dispatcher peak RSS ${figures.dispatcherPeakRssMiB} MiB (${figures.dispatcherStartupPeakRssMiB} MiB after start-up)\n`,
    );
    expect(await dispatcher.stop('SIGTERM')).toBe(0);
  });
});

declare module 'vitest' {
  interface TaskMeta {
    figures?: Record<string, number>;
  }
}
