import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { PresenceRegistry } from '@herald/core';
import { connectError, mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { device, startTestNode, useCleanup, useRedis } from './support.js';

describe('devices per user', () => {
  const defer = useCleanup();

  it('refuses the newest handshake beyond the limit, counting devices on every node together', async () => {
    const prefix = uniquePrefix('devices');
    const first = await startTestNode(prefix, defer, { maxDevicesPerUser: 3 });
    const second = await startTestNode(prefix, defer, { maxDevicesPerUser: 3 });
    const { presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const token = mintToken(user);

    const devices = [
      await device(first.url, defer, { token }),
      await device(second.url, defer, { token }),
      await device(first.url, defer, { token, transports: ['polling'] }),
    ];
    await waitFor(async () => (await presence.devices(user)) === 3, { message: 'three devices in presence' });

    // A fourth device is refused on either node; the three connected ones stay connected.
    expect(await connectError(second.url, { token })).toBe('too_many_devices');
    expect(await connectError(first.url, { token, transports: ['polling'] })).toBe('too_many_devices');
    expect(devices.every((d) => d.socket.connected)).toBe(true);
    expect(await presence.devices(user)).toBe(3);

    // Other users are not affected.
    await device(second.url, defer, { token: mintToken(uniqueUser('other')) });

    // Closing one device frees its slot.
    devices[1]?.close();
    await waitFor(async () => (await presence.devices(user)) === 2, { message: 'one device left' });
    const again = await device(second.url, defer, { token });
    expect(again.socket.connected).toBe(true);
  });

  it('allows 20 devices by default, counted from presence wherever they are', async () => {
    const prefix = uniquePrefix('devices');
    const { url } = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    // 19 devices of this user on another node, as that node's presence entries.
    const elsewhere = new PresenceRegistry({ redis, keys, nodeId: 'other-node' });
    defer(() => elsewhere.clearLocal());
    const user = uniqueUser();
    for (let i = 0; i < 19; i++) await elsewhere.add(user, `socket-${i}`);

    const twentieth = await device(url, defer, { token: mintToken(user) });
    expect(twentieth.socket.connected).toBe(true);
    // The whole connect_error: the code as its message, a sentence for people in `data`.
    const socket = io(url, {
      transports: ['websocket'],
      auth: { token: mintToken(user) },
      reconnection: false,
    });
    defer(() => socket.disconnect());
    const refusal = await new Promise<{ message: string; data: unknown }>((resolve) =>
      socket.once('connect_error', (error: Error & { data?: unknown }) =>
        resolve({ message: error.message, data: error.data }),
      ),
    );
    expect(refusal).toEqual({
      message: 'too_many_devices',
      data: { code: 'too_many_devices', message: expect.stringMatching(/already has 20 connected devices/) },
    });
  });
});
