import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESENCE_TTL_MS } from '@herald/core';
import { mintToken, sleep, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { MAX_PRESENCE_TTL_MS, SocketNodeEnv } from '../src/config.js';
import { device, spawnNode, startTestNode, useCleanup, useRedis } from './support.js';

/** Issue 2: a dead node's users must be offline within 30 s. */
const PROMISED_OFFLINE_MS = 30_000;

describe('presence', () => {
  const defer = useCleanup();

  it('is online with one device, still online when one of two leaves, offline after both', async () => {
    const prefix = uniquePrefix('presence');
    const { url } = await startTestNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const other = uniqueUser();

    expect(await presence.isOnline(user)).toBe(false);
    const phone = await device(url, defer, { token: mintToken(user) });
    expect(await presence.isOnline(user)).toBe(true);
    expect(await presence.devices(user)).toBe(1);

    const laptop = await device(url, defer, { token: mintToken(user), transports: ['polling'] });
    expect(await presence.devices(user)).toBe(2);
    expect(await presence.isOnline(other)).toBe(false);

    phone.close();
    await waitFor(async () => (await presence.devices(user)) === 1, { message: 'one device left' });
    expect(await presence.isOnline(user)).toBe(true);

    laptop.close();
    await waitFor(async () => !(await presence.isOnline(user)), { message: 'user offline' });
    expect(await presence.devices(user)).toBe(0);
    expect([...(await presence.onlineAmong([user, other]))]).toEqual([]);
  });

  it('counts devices across nodes sharing a Redis and prefix', async () => {
    const prefix = uniquePrefix('presence');
    const a = await startTestNode(prefix, defer);
    const b = await startTestNode(prefix, defer);
    expect(a.node.nodeId).not.toBe(b.node.nodeId);
    const { presence } = useRedis(prefix, defer);
    const user = uniqueUser();

    const onA = await device(a.url, defer, { token: mintToken(user) });
    const onB = await device(b.url, defer, { token: mintToken(user) });
    expect(await presence.devices(user)).toBe(2);

    onA.close();
    await waitFor(async () => (await presence.devices(user)) === 1, { message: 'device on A gone' });
    expect(await presence.isOnline(user)).toBe(true);

    // A node closing gracefully drops only its own entries.
    const again = await device(a.url, defer, { token: mintToken(user) });
    expect(again.payloads('authenticated')).toHaveLength(1);
    expect(await presence.devices(user)).toBe(2);
    await a.node.close();
    expect(await presence.devices(user)).toBe(1);

    onB.close();
    await waitFor(async () => !(await presence.isOnline(user)), { message: 'user offline' });
  });

  it('turns the users of a SIGKILLed node process offline within the presence TTL', async () => {
    const prefix = uniquePrefix('presence');
    const ttlMs = 3_000;
    const killed = await spawnNode(prefix, defer, { HERALD_PRESENCE_TTL_MS: String(ttlMs) });
    const survivor = await startTestNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    const onlyThere = uniqueUser('only');
    const both = uniqueUser('both');

    await device(killed.url, defer, { token: mintToken(onlyThere) });
    await device(killed.url, defer, { token: mintToken(onlyThere), transports: ['polling'] });
    await device(killed.url, defer, { token: mintToken(both) });
    await device(survivor.url, defer, { token: mintToken(both) });
    expect(await presence.devices(onlyThere)).toBe(2);
    expect(await presence.devices(both)).toBe(2);

    // Outlive the TTL while connected: the heartbeat keeps the entries fresh until the kill.
    await sleep(ttlMs + 500);
    expect(await presence.devices(onlyThere)).toBe(2);
    const killedAt = Date.now();
    expect(await killed.app.stop('SIGKILL')).toBeNull();

    await waitFor(async () => !(await presence.isOnline(onlyThere)), {
      timeoutMs: ttlMs + 2_000,
      intervalMs: 50,
      message: `users of the killed node offline within the ${ttlMs} ms TTL`,
    });
    const offlineAfterMs = Date.now() - killedAt;
    process.stdout.write(
      `[presence] SIGKILLed node (TTL ${ttlMs} ms): its users offline ${offlineAfterMs} ms after the kill\n`,
    );
    // The user with a device on the surviving node stays online, with exactly that one device.
    expect(await presence.devices(both)).toBe(1);
  });

  it('keeps the 30 s promise by construction with the default TTL', async () => {
    // The default and the upper bound of the setting are both within the promise…
    expect(DEFAULT_PRESENCE_TTL_MS).toBeLessThanOrEqual(PROMISED_OFFLINE_MS);
    expect(MAX_PRESENCE_TTL_MS).toBeLessThanOrEqual(PROMISED_OFFLINE_MS);
    expect(
      SocketNodeEnv.safeParse({ JWT_SECRET: 'x'.repeat(32), HERALD_PRESENCE_TTL_MS: '31000' }).success,
    ).toBe(false);

    // …and a process started without the setting writes entries that expire within it.
    const prefix = uniquePrefix('presence');
    const spawned = await spawnNode(prefix, defer);
    const { redis, keys, presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const before = Date.now();
    await device(spawned.url, defer, { token: mintToken(user) });
    const entries = await redis.zrange(keys.presence(user), 0, -1, 'WITHSCORES');
    expect(entries).toHaveLength(2);
    const expiresIn = Number(entries[1]) - before;
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(PROMISED_OFFLINE_MS);
    expect(await presence.isOnline(user)).toBe(true);
    process.stdout.write(`[presence] default TTL: a fresh entry expires ${expiresIn} ms after connect\n`);
  });
});
