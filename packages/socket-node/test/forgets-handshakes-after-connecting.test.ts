import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import type { HeraldSocket, SocketNode } from '../src/index.js';
import { device, startTestNode, useCleanup } from './support.js';

// A full gc on demand, to prove the upgrade requests are no longer reachable.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** True once every request is collected (a WeakRef clears only after the current job). */
async function collected(refs: Array<WeakRef<IncomingMessage>>): Promise<boolean> {
  for (let round = 0; round < 10; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (refs.every((ref) => ref.deref() === undefined)) return true;
  }
  return false;
}

/** WeakRefs to every request whose response headers Engine.IO writes (handshakes and upgrades). */
function watchRequests(node: SocketNode, transport: 'polling' | 'websocket') {
  const refs: Array<WeakRef<IncomingMessage>> = [];
  node.io.engine.on(
    'headers',
    (_headers: unknown, req: IncomingMessage & { _query?: { transport?: string } }) => {
      if (req._query?.transport === transport) refs.push(new WeakRef(req));
    },
  );
  return refs;
}

function onlySocket(node: SocketNode): HeraldSocket {
  const sockets = [...node.io.of('/').sockets.values()];
  expect(sockets).toHaveLength(1);
  return sockets[0]!;
}

const COOKIE = `session=${'c'.repeat(1_000)}`;

describe('what a connection keeps once connected', () => {
  const defer = useCleanup();

  it('a websocket connection authenticated by header keeps neither its request, headers nor token, and still works', async () => {
    const { url, node } = await startTestNode(uniquePrefix('handshake'), defer);
    const upgrades = watchRequests(node, 'websocket');
    const user = uniqueUser();
    const d = await device(url, defer, {
      extraHeaders: { authorization: `Bearer ${mintToken(user)}`, cookie: COOKIE },
    });

    const socket = onlySocket(node);
    expect(socket.data.userId).toBe(user);
    expect(socket.handshake.headers).toEqual({});
    expect(socket.handshake.auth).toEqual({});
    expect(socket.handshake.query).toEqual({});
    expect(socket.handshake.address).toMatch(/127\.0\.0\.1/);
    expect(socket.request).toBeNull();
    expect(upgrades).toHaveLength(1);
    expect(await collected(upgrades)).toBe(true);

    // What comes after the handshake does not need it: client events and in-band token refresh.
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n-1' }),
    ).toEqual({ accepted: true });
    const refreshed = mintToken(user);
    expect(await d.socket.timeout(5_000).emitWithAck('herald:auth', { token: refreshed })).toMatchObject({
      accepted: true,
    });
  });

  it('a polling session upgraded to websocket keeps neither request once connected', async () => {
    const { url, node } = await startTestNode(uniquePrefix('handshake'), defer);
    const upgrades = watchRequests(node, 'websocket');
    const d = await device(url, defer, {
      token: mintToken(uniqueUser()),
      transports: ['polling', 'websocket'],
      extraHeaders: { cookie: COOKIE },
    });
    await waitFor(() => d.socket.io.engine.transport.name === 'websocket' && upgrades.length === 1);

    const socket = onlySocket(node);
    expect(socket.handshake.auth).toEqual({});
    expect(socket.request).toBeNull();
    expect(await collected(upgrades)).toBe(true);
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n-2' }),
    ).toEqual({ accepted: true });
  });

  it('a websocket error after connecting still ends that session through Engine.IO, and the node keeps serving', async () => {
    const { url, node } = await startTestNode(uniquePrefix('handshake'), defer);
    await device(url, defer, { token: mintToken(uniqueUser()) });
    const socket = onlySocket(node);
    const ws = (socket.conn as unknown as { transport: { socket: EventEmitter } }).transport.socket;
    // Engine.IO's own listener for errors before the upgrade is gone; the transport's is not.
    expect(ws.listeners('error').map((l) => l.name)).not.toContain('onUpgradeError');
    const reason = new Promise((resolve) => socket.once('disconnect', resolve));
    ws.emit('error', new Error('simulated socket error'));
    expect(await reason).toBe('transport error');

    const next = await device(url, defer, { token: mintToken(uniqueUser()) });
    expect(
      await next.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n-3' }),
    ).toEqual({ accepted: true });
  });
});
