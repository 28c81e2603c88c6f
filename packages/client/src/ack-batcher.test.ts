import { describe, expect, it } from 'vitest';
import { AckBatcher, DEFAULT_ACK_DELAY_MS } from './ack-batcher.js';

/** Runs the batcher as the client does, asking every millisecond (a timer could only ask less often). */
function simulate(batcher: AckBatcher, handledAt: Array<[at: number, seq: number]>, until: number) {
  const sent: Array<[at: number, seq: number]> = [];
  const queue = [...handledAt];
  for (let t = 0; t <= until; t++) {
    while (queue[0] && queue[0][0] === t) batcher.handled(queue.shift()![1], t);
    const decision = batcher.decide(t);
    if (decision.action === 'send') {
      sent.push([t, decision.seq]);
      batcher.sent(decision.seq, t);
    }
  }
  return sent;
}

describe('AckBatcher', () => {
  it('has nothing to send before anything was handled', () => {
    expect(new AckBatcher().decide(0)).toEqual({ action: 'idle' });
  });

  it('sends one ack for everything handled within the delay, with the latest seq', () => {
    const batcher = new AckBatcher({ delayMs: 100 });
    batcher.handled(1, 0);
    expect(batcher.decide(0)).toEqual({ action: 'wait', ms: 100 });
    batcher.handled(2, 30);
    batcher.handled(3, 60);
    expect(batcher.decide(60)).toEqual({ action: 'wait', ms: 40 });
    expect(batcher.decide(100)).toEqual({ action: 'send', seq: 3 });
    batcher.sent(3, 100);
    expect(batcher.acked).toBe(3);
    expect(batcher.decide(101)).toEqual({ action: 'idle' });
    // A seq at or below what was handled changes nothing.
    batcher.handled(2, 120);
    expect(batcher.decide(120)).toEqual({ action: 'idle' });
  });

  it('sends at once when a full batch waits', () => {
    const batcher = new AckBatcher({ delayMs: 100, batchSize: 10 });
    for (let seq = 1; seq <= 9; seq++) batcher.handled(seq, 5);
    expect(batcher.decide(5).action).toBe('wait');
    batcher.handled(10, 5);
    expect(batcher.decide(5)).toEqual({ action: 'send', seq: 10 });
  });

  it('never sends more than maxPerSecond, however fast seqs are handled', () => {
    const batcher = new AckBatcher({ delayMs: 0, batchSize: 1, maxPerSecond: 10 });
    const handled = Array.from({ length: 3_000 }, (_, i): [number, number] => [i, i + 1]);
    const sent = simulate(batcher, handled, 3_500);
    // A token bucket: in any window of w ms at most 10 + 10 * w / 1000 acks (bursts of 10, then 10/s).
    expect(sent.length).toBeGreaterThan(30);
    for (let i = 0; i < sent.length; i++) {
      for (let j = i; j < sent.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(10 + (10 * (sent[j]![0] - sent[i]![0])) / 1000 + 1e-9);
      }
    }
    // The last ack carries the last seq: nothing handled is left unacked.
    expect(sent.at(-1)![1]).toBe(3_000);
    expect(sent.map(([, seq]) => seq)).toEqual([...sent.map(([, seq]) => seq)].sort((a, b) => a - b));
  });

  it('does not ack the seq it was reset to', () => {
    const batcher = new AckBatcher();
    batcher.reset(40);
    expect(batcher.decide(0)).toEqual({ action: 'idle' });
    batcher.handled(41, 0);
    expect(batcher.decide(DEFAULT_ACK_DELAY_MS)).toEqual({ action: 'send', seq: 41 });
  });

  it('refuses options out of range, naming them', () => {
    expect(() => new AckBatcher({ delayMs: -1 })).toThrow(/ackDelayMs/);
    expect(() => new AckBatcher({ batchSize: 0 })).toThrow(/ackBatchSize/);
    expect(() => new AckBatcher({ maxPerSecond: 0 })).toThrow(/maxAcksPerSecond/);
  });
});
