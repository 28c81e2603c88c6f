import { describe, expect, it } from 'vitest';
import type { SocketData } from '@herald/contracts';
import { createClientEventLimit, type ClientEventVerdict } from './client-event-limit.js';

const data = (): SocketData => ({ userId: 'u', email: null, role: null });

function tally(verdicts: ClientEventVerdict[]) {
  const counts = { accept: 0, refuse: 0, disconnect: 0 };
  for (const v of verdicts) counts[v]++;
  return counts;
}

describe('createClientEventLimit', () => {
  it('defaults to 20/s with a burst of 40, refusing what is over', () => {
    const limit = createClientEventLimit();
    const socket = data();
    expect(tally(Array.from({ length: 60 }, () => limit.check(socket, 0)))).toEqual({
      accept: 40,
      refuse: 20,
      disconnect: 0,
    });
    // A second later, 20 more.
    expect(tally(Array.from({ length: 30 }, () => limit.check(socket, 1_000)))).toMatchObject({ accept: 20 });
    // Each socket has its own bucket, and the state is two numbers on socket.data.
    expect(limit.check(data(), 1_000)).toBe('accept');
    expect(Object.keys(socket).sort()).toEqual(['email', 'eventBucket', 'refusalBucket', 'role', 'userId']);
  });

  it('says disconnect past 100 refusals in a burst, by default', () => {
    const limit = createClientEventLimit();
    const socket = data();
    const verdicts = Array.from({ length: 40 + 101 }, () => limit.check(socket, 0));
    expect(tally(verdicts)).toEqual({ accept: 40, refuse: 100, disconnect: 1 });
    expect(verdicts.at(-1)).toBe('disconnect');
  });

  it('lets a client slightly over the rate keep its share, without disconnecting it', () => {
    const limit = createClientEventLimit({ ratePerSecond: 20, burst: 40, disconnectAfter: 100 });
    const socket = data();
    // 25 events per second for a minute: 5 refused per second, drained at 10 per second.
    const verdicts: ClientEventVerdict[] = [];
    for (let t = 0; t < 60_000; t += 40) verdicts.push(limit.check(socket, t));
    const counts = tally(verdicts);
    expect(counts.disconnect).toBe(0);
    expect(counts.accept).toBeGreaterThanOrEqual(40 + 20 * 59);
  });

  it('disconnects refusals sustained above a tenth of disconnectAfter per second', () => {
    const limit = createClientEventLimit({ ratePerSecond: 20, burst: 40, disconnectAfter: 100 });
    const socket = data();
    // 50 per second: 30 refused per second, 20 more than drain: about 5 s to disconnect.
    let t = 0;
    for (; t < 30_000 && limit.check(socket, t) !== 'disconnect'; t += 20);
    expect(t).toBeGreaterThan(3_000);
    expect(t).toBeLessThan(8_000);
  });

  it('with disconnectAfter 0 only refuses', () => {
    const limit = createClientEventLimit({ ratePerSecond: 1, burst: 1, disconnectAfter: 0 });
    const socket = data();
    expect(tally(Array.from({ length: 1_000 }, () => limit.check(socket, 0)))).toEqual({
      accept: 1,
      refuse: 999,
      disconnect: 0,
    });
  });

  it('refuses a bad disconnectAfter', () => {
    expect(() => createClientEventLimit({ disconnectAfter: -1 })).toThrow(/rateLimitDisconnectAfter/);
  });
});
