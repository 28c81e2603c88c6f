import { describe, expect, it } from 'vitest';
import { uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  backlogOf,
  deliveryProblems,
  launchDispatcher,
  openRedis,
  printFigures,
  publishRounds,
  spawnDispatcher,
  spawnSocketNode,
  startDevice,
  startPublisher,
  useCleanup,
  wireFigures,
} from './support.js';

const USERS = 50;
const ROUNDS = 40; // one event per user per round: 2,000 events
/** Rounds queued before the first dispatcher starts, so it has a backlog when it is killed. */
const QUEUED_ROUNDS = 30;
/** Rounds published while no dispatcher runs; the last round is published once everything else is done. */
const WHILE_DOWN_ROUNDS = ROUNDS - 1 - QUEUED_ROUNDS;
/** Copies on the wire (over all clients) at which the first dispatcher is killed. */
const KILL_AT_WIRE_COPIES = 250;

/** Issue 3, test b; DESIGN.md guarantee 6. */
describe('the dispatcher SIGKILLed mid-stream', () => {
  const defer = useCleanup();

  it('loses nothing: a new dispatcher delivers the rest, claims the killed one’s entries, every handler sees each of its user’s events once, in order', async () => {
    const where = { prefix: uniquePrefix('guarantee-b') };
    const nodes = await Promise.all([spawnSocketNode(defer, where), spawnSocketNode(defer, where)]);
    // Small entries (5 events each): many of them, so the dispatcher is between entries as rarely as possible.
    const publisher = startPublisher(defer, where, { maxBatchEvents: 5 });
    const backlog = backlogOf(where, openRedis(defer, where));

    const users = Array.from({ length: USERS }, (_, i) => uniqueUser(`b${i}`));
    const devices = users.map((user, i) => startDevice(defer, nodes[i % nodes.length]!.url, user));
    await Promise.all(devices.map((d) => d.client.ready));

    await publishRounds(publisher, users, 1, QUEUED_ROUNDS);
    expect((await backlog()).caughtUp).toBe(false);

    // The kill fires from the wire itself, in the tick the threshold copy arrives: the dispatcher is mid-backlog.
    let killedAt = 0;
    let killed: Promise<number | null> | undefined;
    let copies = 0;
    const first = launchDispatcher(defer, where);
    for (const d of devices) {
      d.client.socket.onAny(() => {
        if (++copies < KILL_AT_WIRE_COPIES || killed) return;
        killedAt = performance.now();
        killed = first.stop('SIGKILL');
      });
    }
    await waitFor(() => killed !== undefined, {
      timeoutMs: 60_000,
      message: `${KILL_AT_WIRE_COPIES} copies on the wire`,
    });
    expect(await killed).toBeNull();

    // What the dead dispatcher held: its entries stay pending until another claims them (HERALD_DISPATCHER_LOCK_MS idle).
    const atKill = await backlog();
    expect(atKill.pending).toBeGreaterThan(0);

    // Producers go on while no dispatcher runs: their events are sequenced and queued.
    await publishRounds(publisher, users, QUEUED_ROUNDS + 1, QUEUED_ROUNDS + WHILE_DOWN_ROUNDS);
    await spawnDispatcher(defer, where);
    const secondReadyAt = performance.now();

    await Promise.all(devices.map((d) => d.untilHandled(ROUNDS - 1, 120_000)));
    const handledAllAt = performance.now();
    // The killed dispatcher's entries are claimed and delivered again once they were idle for the lock time.
    await waitFor(async () => (await backlog()).settled, {
      timeoutMs: 150_000,
      intervalMs: 250,
      message: 'the killed dispatcher’s entries were claimed and delivered',
    });
    const drainedAt = performance.now();
    expect((await backlog()).dead).toBe(0);

    // A last round after everything else: Redis pub/sub keeps order, so once it is handled every
    // earlier emit (the re-run jobs' ones included) is on the wire and counted.
    await publishRounds(publisher, users, ROUNDS, ROUNDS);
    await Promise.all(devices.map((d) => d.untilHandled(ROUNDS)));

    expect(devices.flatMap((d) => deliveryProblems(d, ROUNDS))).toEqual([]);
    // No client lost its connection: the dispatcher's death is invisible to sockets.
    expect(devices.filter((d) => d.statuses.some((s) => s.state === 'disconnected'))).toEqual([]);

    const wire = wireFigures(devices);
    const handled = devices.reduce((sum, d) => sum + d.handled.length, 0);
    const synced = devices.reduce((sum, d) => sum + d.handled.filter((h) => h.meta.replayed).length, 0);
    printFigures(
      'b',
      `${USERS * ROUNDS} events to ${USERS} users over 2 nodes; dispatcher SIGKILLed at ${KILL_AT_WIRE_COPIES} copies on the wire ` +
        `holding ${atKill.pending} entries in flight, ${atKill.added} appended by then; ` +
        `${WHILE_DOWN_ROUNDS * USERS} events published while down; handled ${handled} (${handled - USERS * ROUNDS} extra), ` +
        `0 out of order, 0 gaps, ${synced} handled from a sync replay`,
    );
    printFigures(
      'b',
      `wire: ${wire.copies} copies for ${USERS * ROUNDS} events; raw duplicates on the wire ${wire.duplicates}, all dropped by the SDK: ` +
        `${wire.duplicateEmits} emitted live twice, ${wire.lateEmits} emitted live after the client had them from a replay, ` +
        `${wire.replayedAgain} replayed again (${wire.replayed} replayed copies in all)`,
    );
    printFigures(
      'b',
      `timing: kill → new dispatcher ready ${Math.round(secondReadyAt - killedAt)} ms; kill → every handler at seq ${ROUNDS - 1} ` +
        `${Math.round(handledAllAt - killedAt)} ms; kill → killed dispatcher's entries claimed and delivered (streams settled) ${Math.round(drainedAt - killedAt)} ms`,
    );
  });
});
