import { describe, expect, it } from 'vitest';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  countStatuses,
  deliveryProblems,
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

const USERS = 50;
const ROUNDS = 40; // one event per user per round: 2,000 events
const KILL_AFTER_ROUND = 15;

/** Issue 3, test a; DESIGN.md guarantees 3, 4 and 6. */
describe('a socket node SIGKILLed mid-stream', () => {
  const defer = useCleanup();

  it('loses nothing: the clients it held reconnect to the other node and every handler sees each of its user’s events once, in order', async () => {
    const where = { prefix: uniquePrefix('guarantee-a') };
    const [doomed, survivor] = await Promise.all([
      spawnSocketNode(defer, where),
      spawnSocketNode(defer, where),
    ]);
    await spawnDispatcher(defer, where);
    // One URL for the SDK, as behind a load balancer: a connection refused by a dead node goes to the next.
    const proxy = await startRoundRobinProxy(defer, [doomed.port, survivor.port]);
    const publisher = startPublisher(defer, where);

    const users = Array.from({ length: USERS }, (_, i) => uniqueUser(`a${i}`));
    const devices = users.map((user) => startDevice(defer, proxy.url, user));
    await Promise.all(devices.map((d) => d.client.ready));
    // Round robin: half the clients on each node.
    expect(proxy.open()).toEqual(
      new Map([
        [doomed.port, USERS / 2],
        [survivor.port, USERS / 2],
      ]),
    );

    let killedAt = 0;
    let killed: Promise<number | null> | undefined;
    let reconnectedAt = 0;
    let reconnected: Promise<void> | undefined;
    let handledAtKill = 0;
    let lastRound = 0;
    let roundWhenReconnected = 0;
    const started = performance.now();
    await publishRounds(publisher, users, 1, ROUNDS, {
      // Rounds spaced out so the kill, the reconnects and the replays happen while events still flow.
      pauseMs: 60,
      afterRound: (round) => {
        lastRound = round;
        if (round !== KILL_AFTER_ROUND) return;
        handledAtKill = devices.reduce((sum, d) => sum + d.handled.length, 0);
        killedAt = performance.now();
        killed = doomed.app.stop('SIGKILL');
        // Watched while the stream goes on: when did the last orphan get its connection back?
        reconnected = waitFor(
          () => {
            const orphans = devices.filter((d) => countStatuses(d, 'disconnected') > 0);
            return orphans.length === USERS / 2 && orphans.every((d) => countStatuses(d, 'connected') >= 2);
          },
          { timeoutMs: 60_000, intervalMs: 10, message: 'the clients of the killed node reconnected' },
        ).then(() => {
          reconnectedAt = performance.now();
          roundWhenReconnected = lastRound;
        });
      },
    });
    expect(await killed).toBeNull();
    const publishedAt = performance.now();
    await reconnected;
    const orphans = devices.filter((d) => countStatuses(d, 'disconnected') > 0);
    await Promise.all(devices.map((d) => d.untilHandled(ROUNDS)));
    const caughtUpAt = performance.now();

    // Every handler saw every event of its user once, in publish order, with no gap.
    expect(devices.flatMap((d) => deliveryProblems(d, ROUNDS))).toEqual([]);
    // Exactly the killed node's half lost its connection, once, and came back once; all on the survivor now.
    expect(orphans).toHaveLength(USERS / 2);
    for (const d of orphans) {
      expect(countStatuses(d, 'disconnected')).toBe(1);
      expect(countStatuses(d, 'connected')).toBe(2);
    }
    expect(proxy.open()).toEqual(
      new Map([
        [doomed.port, 0],
        [survivor.port, USERS],
      ]),
    );

    const handled = devices.reduce((sum, d) => sum + d.handled.length, 0);
    const wire = wireFigures(devices);
    const orphanWire = wireFigures(orphans);
    const replayedHandled = orphans.reduce(
      (sum, d) => sum + d.handled.filter((h) => h.meta.replayed).length,
      0,
    );
    printFigures(
      'a',
      `${USERS * ROUNDS} events to ${USERS} users (${USERS} SDK clients, ${USERS / 2} per node), node SIGKILLed after ` +
        `${KILL_AFTER_ROUND * USERS} were published (${handledAtKill} handled by then): handled ${handled} ` +
        `(${handled - USERS * ROUNDS} extra), 0 out of order, 0 gaps`,
    );
    printFigures(
      'a',
      `wire: ${wire.copies} copies for ${USERS * ROUNDS} events, ${wire.duplicates} duplicates dropped by the SDK ` +
        `(${wire.duplicateEmits} repeated live emits), ${wire.replayed} replayed copies; the ${orphans.length} ` +
        `reconnected clients handled ${replayedHandled} events from a replay (their wire: ${orphanWire.copies} copies, ` +
        `${orphanWire.duplicates} duplicates)`,
    );
    printFigures(
      'a',
      `timing: kill → all ${orphans.length} clients reconnected ${Math.round(reconnectedAt - killedAt)} ms; ` +
        `kill → every handler at its last event ${Math.round(caughtUpAt - killedAt)} ms ` +
        `(last publish ${Math.round(publishedAt - killedAt)} ms after the kill, ${ROUNDS - roundWhenReconnected} rounds ` +
        `published after the last reconnect; whole stream ${Math.round(caughtUpAt - started)} ms)`,
    );
  });
});
