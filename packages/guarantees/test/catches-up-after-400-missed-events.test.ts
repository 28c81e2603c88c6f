import { describe, expect, it } from 'vitest';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  countStatuses,
  deliveryProblems,
  backlogOf,
  openRedis,
  printFigures,
  publishRounds,
  spawnDispatcher,
  spawnSocketNode,
  startDevice,
  startPublisher,
  startRoundRobinProxy,
  useCleanup,
  wireFigures,
} from './support.js';

const LIVE_BEFORE = 5;
const MISSED = 400;
const TOTAL = LIVE_BEFORE + MISSED;

/** Issue 3, test e; DESIGN.md guarantee 3. */
describe('a device offline for 400 events', () => {
  const defer = useCleanup();

  it('catches up when it reconnects: its handlers get all 400, in order, once', async () => {
    const where = { prefix: uniquePrefix('guarantee-e') };
    const node = await spawnSocketNode(defer, where);
    await spawnDispatcher(defer, where);
    // The device's network: cut and restored without the SDK knowing anything but a lost connection.
    const network = await startRoundRobinProxy(defer, [node.port]);
    const publisher = startPublisher(defer, where);
    const backlog = backlogOf(where, openRedis(defer, where));
    const user = uniqueUser('e');

    const device = startDevice(defer, network.url, user);
    let openedAt = 0;
    let authenticatedAt = 0;
    let lastHandledAt = 0;
    // The transport is up (TCP and websocket handshake done): the reconnect as the network sees it.
    device.client.socket.io.on('open', () => void (openedAt = performance.now()));
    device.client.onStatus((status) => {
      if (status.state === 'connected') authenticatedAt = performance.now();
    });
    device.client.on('xp:gained', (_payload, meta) => {
      if (meta.seq === TOTAL) lastHandledAt = performance.now();
    });
    await device.client.ready;
    await publishRounds(publisher, [user], 1, LIVE_BEFORE);
    await device.untilHandled(LIVE_BEFORE);

    network.cut();
    await waitFor(() => countStatuses(device, 'disconnected') > 0, { message: 'the device noticed the cut' });
    const publishStart = performance.now();
    // One producer, each publish awaited: publish order is seq order.
    await publishRounds(publisher, [user], LIVE_BEFORE + 1, TOTAL);
    const publishMs = performance.now() - publishStart;
    // Every live emit happened (to no device): what the device gets now can only come from its replay.
    await waitFor(async () => (await backlog()).settled, {
      timeoutMs: 30_000,
      message: 'every stream entry delivered',
    });
    expect(device.client.lastSeq).toBe(LIVE_BEFORE);

    const restoredAt = performance.now();
    network.restore();
    await device.untilHandled(TOTAL);

    expect(deliveryProblems(device, TOTAL)).toEqual([]);
    const missed = device.handled.slice(LIVE_BEFORE);
    expect(missed.filter((h) => h.meta.replayed !== true)).toEqual([]);
    expect(device.statuses.at(-1)).toMatchObject({ state: 'connected', resumed: true });
    expect(countStatuses(device, 'connected')).toBe(2);
    expect(openedAt).toBeGreaterThan(restoredAt);

    const wire = wireFigures([device]);
    printFigures(
      'e',
      `device offline for ${MISSED} events (published one after another in ${Math.round(publishMs)} ms while its network was cut): ` +
        `handlers got ${missed.length} of ${MISSED}, all replayed, in order, ${missed.length - new Set(missed.map((h) => h.meta.seq)).size} twice; ` +
        `wire ${wire.copies} copies for ${TOTAL} events (${wire.duplicates} duplicates)`,
    );
    printFigures(
      'e',
      `catch-up: reconnect (transport open) → ${MISSED}th missed event handled ${Math.round(lastHandledAt - openedAt)} ms ` +
        `(open → authenticated ${Math.round(authenticatedAt - openedAt)} ms, authenticated → ${MISSED}th handled ` +
        `${Math.round(lastHandledAt - authenticatedAt)} ms; network restored → open ${Math.round(openedAt - restoredAt)} ms of reconnect backoff)`,
    );
  });
});
