import { describe, expect, it } from 'vitest';
import { prng } from '@herald/testing';
import { Sequencer, type Delivery } from './sequencer.js';

const meta = (seq: number | undefined, id = `e-${String(seq)}`) => ({
  id,
  ts: 1,
  ...(seq === undefined ? {} : { seq }),
});

/** Takes and handles everything released, returning what the app would have seen. */
function drain(sequencer: Sequencer): string[] {
  const seen: string[] = [];
  for (let d = sequencer.take(); d; d = sequencer.take()) {
    seen.push(describe1(d));
    sequencer.handled(d);
  }
  return seen;
}

function describe1(d: Delivery): string {
  return d.kind === 'gap' ? `gap:${d.fromSeq}-${d.toSeq}` : `${d.event}#${d.meta.seq ?? d.meta.id}`;
}

/** A sequencer whose connection is authenticated (`latestSeq` defaults to the cursor's). */
function connected(
  userId = 'u1',
  latestSeq?: number,
  cursor?: { userId: string; lastSeq: number },
): Sequencer {
  const sequencer = new Sequencer(cursor ? { cursor } : {});
  sequencer.authenticated(userId, latestSeq ?? cursor?.lastSeq ?? 0);
  return sequencer;
}

describe('Sequencer', () => {
  it('releases seq-ordered events in order, holding back those that come early', () => {
    const s = connected();
    expect(s.receive('a', {}, meta(2))).toBe('pending');
    expect(s.receive('a', {}, meta(3))).toBe('pending');
    expect(s.hole()).toEqual({ fromSeq: 1, toSeq: 1 });
    expect(drain(s)).toEqual([]);
    expect(s.receive('a', {}, meta(1))).toBe('released');
    expect(s.hole()).toBeUndefined();
    expect(drain(s)).toEqual(['a#1', 'a#2', 'a#3']);
    expect(s.lastSeq).toBe(3);
  });

  it('drops repeats of a seq, whether already released or still pending', () => {
    const s = connected();
    s.receive('a', { n: 1 }, meta(1));
    s.receive('a', {}, meta(3));
    expect(s.receive('a', {}, meta(1))).toBe('duplicate');
    expect(s.receive('a', {}, meta(3))).toBe('duplicate');
    s.receive('a', {}, meta(2));
    expect(drain(s)).toEqual(['a#1', 'a#2', 'a#3']);
    expect(s.receive('a', {}, meta(2))).toBe('duplicate');
    expect(drain(s)).toEqual([]);
  });

  it('releases events without a seq at once and drops a repeated id within the window, not after it', () => {
    const s = new Sequencer({ recentIds: 3 });
    // Before `authenticated` too: room and broadcast events do not depend on the cursor.
    expect(s.receive('room', {}, meta(undefined, 'r1'))).toBe('released');
    expect(s.receive('room', {}, meta(undefined, 'r1'))).toBe('duplicate');
    for (const id of ['r2', 'r3', 'r4']) s.receive('room', {}, meta(undefined, id));
    // r1 was the oldest of four: forgotten.
    expect(s.receive('room', {}, meta(undefined, 'r1'))).toBe('released');
    expect(s.receive('room', {}, meta(undefined, 'r4'))).toBe('duplicate');
    expect(drain(s)).toEqual(['room#r1', 'room#r2', 'room#r3', 'room#r4', 'room#r1']);
    expect(s.lastSeq).toBe(0);
  });

  it('keeps seq-ordered events that arrive before authenticated and, without a cursor, drops those at or below the latest seq', () => {
    const s = new Sequencer();
    expect(s.receive('a', {}, meta(6))).toBe('pending');
    expect(s.receive('a', {}, meta(5))).toBe('pending');
    expect(s.receive('a', {}, meta(4))).toBe('pending');
    expect(s.hole()).toBeUndefined();
    expect(s.authenticated('u1', 4)).toBe('started');
    expect(s.cursor()).toEqual({ userId: 'u1', lastSeq: 4 });
    expect(drain(s)).toEqual(['a#5', 'a#6']);
    expect(s.cursor()).toEqual({ userId: 'u1', lastSeq: 6 });
  });

  it('resumes from the cursor of the same user and drops the replayed events it already released', () => {
    const s = connected('u1', undefined, { userId: 'u1', lastSeq: 10 });
    expect(s.lastSeq).toBe(10);
    s.receive('a', {}, meta(11));
    s.receive('a', {}, meta(12));
    expect(drain(s)).toEqual(['a#11', 'a#12']);
    s.disconnected();
    // Arrives on the next connection before its `authenticated`.
    s.receive('a', {}, meta(14));
    expect(s.authenticated('u1', 14)).toBe('resumed');
    expect(s.hole()).toEqual({ fromSeq: 13, toSeq: 13 });
    // Replay of everything after 12 (the cursor the handshake sent).
    for (const seq of [13, 14]) s.receive('a', { replayed: true }, { ...meta(seq), replayed: true });
    expect(drain(s)).toEqual(['a#13', 'a#14']);
  });

  it('drops what was pending when the connection goes, and keeps what was released', () => {
    const s = connected();
    s.receive('a', {}, meta(1));
    s.receive('a', {}, meta(3));
    s.disconnected();
    expect(s.pendingCount).toBe(0);
    expect(s.readyCount).toBe(1);
    expect(s.hole()).toBeUndefined();
    s.authenticated('u1', 3);
    s.receive('a', {}, meta(2));
    s.receive('a', {}, meta(3));
    expect(drain(s)).toEqual(['a#1', 'a#2', 'a#3']);
  });

  it('starts over for another user, and what the old user had released does not move the new cursor', () => {
    const s = connected('u1', undefined, { userId: 'u1', lastSeq: 7 });
    s.receive('a', {}, meta(8));
    s.disconnected();
    expect(s.authenticated('u2', 3)).toBe('started');
    expect(s.cursor()).toEqual({ userId: 'u2', lastSeq: 3 });
    const old = s.take();
    expect(old?.kind === 'event' && old.meta.seq).toBe(8);
    expect(s.handled(old!)).toBe(false);
    expect(s.lastSeq).toBe(3);
    s.receive('a', {}, meta(4));
    expect(drain(s)).toEqual(['a#4']);
    expect(s.cursor()).toEqual({ userId: 'u2', lastSeq: 4 });
  });

  it('starts again from the latest seq when the node is behind the cursor (its data was reset)', () => {
    const s = new Sequencer({ cursor: { userId: 'u1', lastSeq: 50 } });
    expect(s.authenticated('u1', 2)).toBe('rewound');
    expect(s.lastSeq).toBe(2);
    s.receive('a', {}, meta(3));
    expect(drain(s)).toEqual(['a#3']);
  });

  it('without a latest seq from the node, starts at the first seq it sees', () => {
    const s = new Sequencer();
    s.authenticated('u1');
    expect(s.receive('a', {}, meta(41))).toBe('released');
    s.receive('a', {}, meta(43));
    expect(s.hole()).toEqual({ fromSeq: 42, toSeq: 42 });
    s.receive('a', {}, meta(42));
    expect(drain(s)).toEqual(['a#41', 'a#42', 'a#43']);
  });

  it("releases the node's gap in its place in the stream and moves the cursor past it", () => {
    const s = connected('u1', undefined, { userId: 'u1', lastSeq: 3 });
    // A live event that raced the replay.
    s.receive('a', {}, meta(20));
    s.serverGap({ fromSeq: 2, toSeq: 9 });
    expect(s.hole()).toEqual({ fromSeq: 10, toSeq: 19 });
    for (let seq = 10; seq <= 19; seq++) s.receive('a', {}, meta(seq));
    const seen = drain(s);
    expect(seen[0]).toBe('gap:4-9');
    expect(seen.slice(1)).toEqual(Array.from({ length: 11 }, (_, i) => `a#${i + 10}`));
    expect(s.lastSeq).toBe(20);
    // A gap entirely behind the cursor changes nothing.
    s.serverGap({ fromSeq: 1, toSeq: 15 });
    expect(drain(s)).toEqual([]);
    expect(s.lastSeq).toBe(20);
  });

  it("stops the node's gap short of an event this device already has from that range", () => {
    const s = connected('u1', undefined, { userId: 'u1', lastSeq: 3 });
    s.receive('a', {}, meta(8));
    s.receive('a', {}, meta(6));
    s.serverGap({ fromSeq: 4, toSeq: 9 });
    // 4-5 are gone; 6 is here; 7 is a hole again (the caller syncs, then gives up on it).
    expect(drain(s)).toEqual(['gap:4-5', 'a#6']);
    expect(s.hole()).toEqual({ fromSeq: 7, toSeq: 7 });
    expect(s.skipMissing()).toEqual({ fromSeq: 7, toSeq: 7 });
    expect(drain(s)).toEqual(['gap:7-7', 'a#8']);
    // A gap that starts on an event this device has is no gap.
    s.receive('a', {}, meta(10));
    s.serverGap({ fromSeq: 10, toSeq: 10 });
    expect(s.hole()).toEqual({ fromSeq: 9, toSeq: 9 });
    s.serverGap({ fromSeq: 9, toSeq: 10 });
    expect(drain(s)).toEqual(['gap:9-9', 'a#10']);
  });

  it('skips a hole as a gap only up to the seq the node answered; later seqs keep waiting', () => {
    const s = connected();
    s.receive('a', {}, meta(1));
    s.receive('a', {}, meta(9));
    expect(s.hole()).toEqual({ fromSeq: 2, toSeq: 8 });
    expect(s.skipMissing(5)).toEqual({ fromSeq: 2, toSeq: 5 });
    expect(drain(s)).toEqual(['a#1', 'gap:2-5']);
    expect(s.hole()).toEqual({ fromSeq: 6, toSeq: 8 });
    expect(s.skipMissing(5)).toBeUndefined();
    s.receive('a', {}, meta(6));
    s.receive('a', {}, meta(7));
    expect(s.skipMissing()).toEqual({ fromSeq: 8, toSeq: 8 });
    expect(drain(s)).toEqual(['a#6', 'a#7', 'gap:8-8', 'a#9']);
    expect(s.lastSeq).toBe(9);
  });

  it('releases every seq exactly once and in order whatever the arrival order, repeats and reconnects', () => {
    const seed = 20_260_101;
    const random = prng(seed);
    const total = 2_000;
    const s = connected('u1', 0);
    const seen: number[] = [];
    let nextLive = 1;
    // Arrival: live events shuffled within a small window, some repeated, some lost
    // until a "replay" (every seq after the cursor) after a simulated reconnect.
    while (nextLive <= total) {
      const window = Array.from({ length: Math.min(8, total - nextLive + 1) }, (_, i) => nextLive + i);
      nextLive += window.length;
      window.sort(() => random() - 0.5);
      for (const seq of window) {
        if (random() < 0.05) continue; // lost on the wire
        s.receive('a', {}, meta(seq));
        if (random() < 0.1) s.receive('a', {}, meta(seq));
      }
      if (random() < 0.1) {
        s.disconnected();
        s.authenticated('u1', nextLive - 1);
        for (let seq = s.lastSeq + 1; seq < nextLive; seq++) s.receive('a', {}, meta(seq));
      }
      for (let d = s.take(); d; d = s.take()) {
        if (d.kind === 'event') seen.push(d.meta.seq!);
        s.handled(d);
      }
    }
    // Whatever is still missing at the end comes back through one more replay.
    s.disconnected();
    s.authenticated('u1', total);
    for (let seq = s.lastSeq + 1; seq <= total; seq++) s.receive('a', {}, meta(seq));
    for (let d = s.take(); d; d = s.take()) {
      if (d.kind === 'event') seen.push(d.meta.seq!);
      s.handled(d);
    }
    expect(seen, `seed ${seed}`).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('refuses a dedupe window below one', () => {
    expect(() => new Sequencer({ recentIds: 0 })).toThrow(/recentIds must be an integer >= 1/);
  });
});
