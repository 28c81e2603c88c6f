import { describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { PresenceReader } from '@herald/core';
import { mintToken, sleep, uniqueUser, waitFor, type Device, prng } from '@herald/testing';
import { device, startStack, useCleanup } from './support.js';

const USERS = 50;
const DEVICES_PER_USER = 2;
const ROOMS = 10;
const EVENTS = 20_000;
/** Share of events addressed to a user; the rest go to a room. */
const TO_USER = 0.6;
/** Publishes in flight at once. */
const BATCH = 200;
/** After everything expected arrived, how long to keep listening for strays. */
const QUIET_MS = 500;

interface Member {
  userId: string;
  rooms: string[];
  devices: Device[];
}

/** What one device must see, and what it saw (markers of xp:gained, deduplicated by event id). */
interface Tally {
  member: Member;
  device: Device;
  seen: Set<string>;
  duplicates: number;
}

describe('isolation', () => {
  const defer = useCleanup();

  it('20,000 random user and room events reach exactly the devices entitled to them: 0 leaks, 0 missing', async (context) => {
    const seed = Number(process.env.HERALD_ISOLATION_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    process.stdout.write(`\n[isolation] seed ${seed} (replay with HERALD_ISOLATION_SEED=${seed})\n`);
    const started = performance.now();

    const { urls, publisher } = await startStack(defer, {
      nodes: 2,
      // More jobs in flight than the default 4: the queue, not the test, should be the limit.
      dispatcherOptions: { concurrency: 32 },
    });
    const rooms = Array.from({ length: ROOMS }, (_, i) => `team-${i}`);
    const members: Member[] = Array.from({ length: USERS }, (_, i) => {
      const count = Math.floor(random() * 3);
      const mine = new Set<string>();
      while (mine.size < count) mine.add(pick(rooms));
      return { userId: uniqueUser(`iso${i}`), rooms: [...mine], devices: [] };
    });

    // Each user's two devices on different nodes, connected 20 at a time.
    const tallies: Tally[] = [];
    const plan = members.flatMap((member, i) =>
      Array.from({ length: DEVICES_PER_USER }, (_, d) => ({
        member,
        url: urls[(i + d) % urls.length] as string,
      })),
    );
    for (let i = 0; i < plan.length; i += 20) {
      const batch = plan.slice(i, i + 20);
      const connected = await Promise.all(
        batch.map(({ member, url }) =>
          device(url, defer, { token: mintToken(member.userId, { rooms: member.rooms }) }),
        ),
      );
      connected.forEach((d, j) => {
        const member = (batch[j] as { member: Member }).member;
        member.devices.push(d);
        const tally: Tally = { member, device: d, seen: new Set(), duplicates: 0 };
        const ids = new Set<string>();
        d.socket.on('xp:gained', (payload: { source: string }, meta: { id: string }) => {
          if (ids.has(meta.id)) tally.duplicates += 1;
          ids.add(meta.id);
          tally.seen.add(payload.source);
        });
        tallies.push(tally);
      });
    }
    const connectedAt = performance.now();

    // The plan of events, then who should get each: a user's devices, or every device of a room's members.
    const expected = new Map<Tally, Set<string>>(tallies.map((t) => [t, new Set()]));
    const byUser = new Map(members.map((m) => [m.userId, tallies.filter((t) => t.member === m)]));
    const byRoom = new Map(rooms.map((r) => [r, tallies.filter((t) => t.member.rooms.includes(r))]));
    const events = Array.from({ length: EVENTS }, (_, i) => {
      const marker = `m${i}-${Math.floor(random() * 1e9).toString(36)}`;
      if (random() < TO_USER) {
        const member = pick(members);
        for (const t of byUser.get(member.userId) ?? []) expected.get(t)?.add(marker);
        return { marker, user: member.userId };
      }
      const room = pick(rooms);
      for (const t of byRoom.get(room) ?? []) expected.get(t)?.add(marker);
      return { marker, room };
    });
    const expectedTotal = [...expected.values()].reduce((sum, set) => sum + set.size, 0);

    for (let i = 0; i < events.length; i += BATCH) {
      await Promise.all(
        events.slice(i, i + BATCH).map((e, j) => {
          const payload = { amount: i + j, source: e.marker, totalXp: 0 };
          return e.user !== undefined
            ? publisher.toUser(e.user).emit('xp:gained', payload)
            : publisher.toRoom(e.room).emit('xp:gained', payload);
        }),
      );
    }
    const publishedAt = performance.now();

    const receivedTotal = () => tallies.reduce((sum, t) => sum + t.seen.size, 0);
    await waitFor(() => receivedTotal() >= expectedTotal, {
      timeoutMs: 90_000,
      intervalMs: 100,
      message: `devices received ${expectedTotal} expected deliveries`,
    }).catch(() => undefined); // Counted below, so a shortfall reports how many were missing.
    const deliveredAt = performance.now();
    await sleep(QUIET_MS);

    let leaks = 0;
    let missing = 0;
    let duplicates = 0;
    const examples: string[] = [];
    for (const t of tallies) {
      const want = expected.get(t) as Set<string>;
      for (const marker of t.seen) {
        if (!want.has(marker)) {
          leaks += 1;
          if (examples.length < 5) examples.push(`leak: ${marker} reached a device of ${t.member.userId}`);
        }
      }
      for (const marker of want) {
        if (!t.seen.has(marker)) {
          missing += 1;
          if (examples.length < 5)
            examples.push(`missing: ${marker} never reached a device of ${t.member.userId}`);
        }
      }
      duplicates += t.duplicates;
    }
    const figures = {
      seed,
      devices: tallies.length,
      events: EVENTS,
      expectedDeliveries: expectedTotal,
      leaks,
      missing,
      duplicatesDroppedById: duplicates,
      connectMs: Math.round(connectedAt - started),
      publishMs: Math.round(publishedAt - connectedAt),
      lastDeliveryMs: Math.round(deliveredAt - connectedAt),
      totalMs: Math.round(performance.now() - started),
    };
    context.task.meta.figures = figures;
    process.stdout.write(
      `[isolation] ${USERS} users × ${DEVICES_PER_USER} devices on 2 nodes, ${ROOMS} rooms; ${EVENTS} events ` +
        `(${expectedTotal} deliveries expected): leaks ${leaks}, missing ${missing}, duplicates ${duplicates}; ` +
        `connect ${figures.connectMs} ms, publish ${figures.publishMs} ms, publish→last delivery ` +
        `${figures.lastDeliveryMs} ms, total ${figures.totalMs} ms (seed ${seed})\n`,
    );
    expect(examples).toEqual([]);
    expect({ leaks, missing }).toEqual({ leaks: 0, missing: 0 });
  });

  it('a userId sent by the client (auth, query, header, payload) never changes whose room it is in', async () => {
    const { urls, publisher, redis, keys } = await startStack(defer, { nodes: 1 });
    const url = urls[0] as string;
    const owner = uniqueUser('owner');
    const victim = uniqueUser('victim');
    const victimDevice = await device(url, defer, { token: mintToken(victim) });

    const spoofer: Socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: mintToken(owner, { rooms: [`user:${victim}`] }), userId: victim, user: { id: victim } },
      query: { userId: victim, sub: victim },
      extraHeaders: { 'x-user-id': victim },
    });
    defer(() => spoofer.disconnect());
    const received: Array<{ event: string; args: unknown[] }> = [];
    spoofer.onAny((event: string, ...args: unknown[]) => received.push({ event, args }));
    await waitFor(() => received.some((r) => r.event === 'authenticated'), {
      message: 'spoofer authenticated',
    });
    expect(received.find((r) => r.event === 'authenticated')?.args[0]).toMatchObject({ userId: owner });

    // A payload naming another user is refused (the schema is strict), and an accepted one is the token's user's.
    const refused = (await spoofer
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n-1', userId: victim })) as {
      accepted: boolean;
    };
    expect(refused.accepted).toBe(false);
    const accepted = (await spoofer
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n-2' }, { userId: victim })) as {
      accepted: boolean;
    };
    expect(accepted).toEqual({ accepted: true });
    const entries = (await redis.xrange(keys.clientEvents, '-', '+')) as Array<[string, string[]]>;
    expect(entries).toHaveLength(1);
    const fields = (entries[0] as [string, string[]])[1];
    expect(fields[fields.indexOf('userId') + 1]).toBe(owner);

    const presence = new PresenceReader(redis, keys);
    expect(await presence.devices(owner)).toBe(1);
    expect(await presence.devices(victim)).toBe(1);

    await publisher.toUser(victim).emit('xp:gained', { amount: 1, source: 'for-victim', totalXp: 1 });
    await publisher.toUser(owner).emit('xp:gained', { amount: 2, source: 'for-owner', totalXp: 2 });
    await waitFor(() => victimDevice.payloads('xp:gained').length === 1, { message: 'victim got its event' });
    await waitFor(() => received.some((r) => r.event === 'xp:gained'), {
      message: 'spoofer got its own event',
    });
    await sleep(300);
    expect(received.filter((r) => r.event === 'xp:gained').map((r) => r.args[0])).toEqual([
      { amount: 2, source: 'for-owner', totalXp: 2 },
    ]);
    expect(victimDevice.payloads('xp:gained')).toEqual([{ amount: 1, source: 'for-victim', totalXp: 1 }]);
  });
});

declare module 'vitest' {
  interface TaskMeta {
    figures?: Record<string, number>;
  }
}
