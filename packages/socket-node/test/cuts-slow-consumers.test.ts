import { readFile } from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { DEFAULT_INBOX_MAX } from '@herald/contracts';
import { createPublisher } from '@herald/publisher';
import {
  mintToken,
  pinoLines,
  spawnApp,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type AppProcess,
} from '@herald/testing';
import { stallingPolling, stallingWebSocket, type StallingClient } from './stalled-clients.js';
import { device, spawnNode, useCleanup } from './support.js';

const EVENTS = 5_000;
/** Characters of padding per event: with its envelope, each event is about 10 KB on the wire. */
const PAD = 10_000;
/**
 * The node's cap in this test (HERALD_MAX_BUFFERED_BYTES; the default is 1 MiB). What the
 * node holds for the slow device is up to about twice the cap (the queued packets' strings,
 * and for the batch in flight also the frames `ws` made of them), and RSS moves by about
 * 2 MiB either way between samples of the same traffic on a busy machine (garbage
 * collection, the healthy device's frames). At a 1 MiB cap that noise alone reaches the
 * 3× bound; at 8 MiB the bound has room for it and still fails by far without the cap
 * (the node grows by 85-95 MiB).
 */
const CAP = 8 * 1_048_576;
/** Publishes in flight at once: fast enough to outrun a reader that stopped. */
const CONCURRENCY = 32;
const MIB = 1_048_576;
/** Events both devices read before the slow one stops. */
const WARM_UP = 2_000;

/** Events (Socket.IO packets `42["xp:gained",…]`) a raw client has read. */
const slowEvents = (raw: StallingClient) => raw.messages.filter((m) => m.startsWith('42["xp:gained"')).length;

/** The node process's resident set right now, in bytes (`/proc`, Linux). */
async function rssBytes(app: AppProcess): Promise<number> {
  const status = await readFile(`/proc/${app.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1_024;
}

/**
 * After a warm-up of 2,000 events, a raw client authenticates, then stops reading
 * (websocket: its net.Socket paused; polling: no GET after the one in flight), while
 * 5,000 events of about 10 KB are published to its user through the publisher and the
 * dispatcher. Another device of the same user, on the same node, reads normally.
 *
 * Outcome: the node cuts the slow connection (log `slow_consumer`, user id, bytes) within
 * 5 s of it passing the cap, its RSS peak grows by less than 3× the cap over the warm-up's,
 * the healthy device gets every event, and the slow device, reconnecting with its cursor,
 * gets every event the inbox still holds (and a gap for the older ones). The node runs as
 * a child process, so its RSS is its own.
 */
describe('a client that stops reading', () => {
  const defer = useCleanup();

  it.each(['websocket', 'polling'] as const)(
    'over %s: is cut as a slow consumer once the node holds more than its cap for it, and loses nothing',
    async (transport) => {
      const prefix = uniquePrefix('slow');
      const user = uniqueUser();
      const token = mintToken(user);
      const {
        app: node,
        url,
        port,
      } = await spawnNode(prefix, defer, {
        HERALD_MAX_BUFFERED_BYTES: String(CAP),
      });
      const dispatcher = spawnApp('dispatcher', {
        REDIS_URL: inject('redisUrl'),
        HERALD_REDIS_PREFIX: prefix,
        HERALD_LOG_LEVEL: 'info',
      });
      defer(() => dispatcher.stop('SIGKILL'));
      await dispatcher.waitForOutput(/dispatcher ready/, 60_000);
      const publisher = createPublisher({ redisUrl: inject('redisUrl'), prefix });
      defer(() => publisher.close());

      const healthy = await device(url, defer, { token });
      const healthySeqs = new Set<number>();
      const healthyAt: number[] = [];
      healthy.socket.on('xp:gained', (_payload: unknown, meta: { seq: number }) => {
        healthySeqs.add(meta.seq);
        healthyAt.push(Date.now());
      });

      const pad = 'x'.repeat(PAD);
      /** Publishes events `from`..`to` to the user, CONCURRENCY at a time. */
      const publish = async (from: number, to: number) => {
        let next = from;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let n = next++; n <= to; n = next++) {
              await publisher
                .toUser(user)
                .emit('xp:gained', { amount: 1, source: 'slow', totalXp: n, pad }, { eventId: `slow-${n}` });
            }
          }),
        );
      };
      // The node's RSS is sampled every 20 ms from the warm-up on.
      let peak = 0;
      let sampling = true;
      defer(() => void (sampling = false));
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await rssBytes(node).catch(() => 0));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      // Warm-up, the healthy device reading: the node's heap grows to what this traffic
      // needs and swings as it collects, so the growth measured below is what the slow
      // device adds, not the heap's own sizing: the baseline is the highest RSS of the warm-up.
      await publish(1, WARM_UP);
      await waitFor(() => healthySeqs.size >= WARM_UP, {
        timeoutMs: 60_000,
        message: `the healthy device got the ${WARM_UP} warm-up events`,
      });
      // The slow device connects now, so its cursor is the warm-up's last seq, and stops reading.
      const slow =
        transport === 'websocket' ? await stallingWebSocket(port, token) : await stallingPolling(port, token);
      defer(() => slow.close());
      const cursor = WARM_UP;
      await slow.stall();
      const settled = await rssBytes(node);
      const baseline = Math.max(peak, settled);
      peak = 0;

      const startedAt = Date.now();
      await publish(WARM_UP + 1, WARM_UP + EVENTS);
      const publishedAt = Date.now();
      await waitFor(() => healthySeqs.size >= WARM_UP + EVENTS, {
        timeoutMs: 120_000,
        message: `the healthy device got all ${WARM_UP + EVENTS} events`,
      });
      const settledAt = Date.now();
      const cutLine = await node
        .waitForOutput(/\{[^\n]*"reason":"slow_consumer"[^\n]*\}/, 5_000)
        .catch(() => undefined);
      sampling = false;
      await sampler;
      const growth = peak - baseline;
      const figures =
        `${EVENTS} events of ${PAD / 1_000} KB to one user after a warm-up of ${WARM_UP}, published in ${publishedAt - startedAt} ms, ` +
        `all at the healthy device ${settledAt - startedAt} ms after the first; node RSS peak growth ${(growth / MIB).toFixed(1)} MiB ` +
        `over the warm-up's peak of ${(baseline / MIB).toFixed(1)} MiB (${((peak - settled) / MIB).toFixed(1)} MiB over the ` +
        `${(settled / MIB).toFixed(1)} MiB after it; cap ${CAP} B)`;
      if (cutLine === undefined) {
        process.stdout.write(`[slow consumer ${transport}] no cut; ${figures}\n`);
        throw new Error(`the node never cut the slow device (${figures})`);
      }

      const cut = JSON.parse(pinoLines(cutLine[0])[0] as string) as {
        time: number;
        userId: string;
        bufferedBytes: number;
      };
      // What the kernel's buffers held when the node cut the connection (websocket), or the
      // last GET took (polling), reaches the client; the node's own buffer for it started to
      // fill only after that.
      await slow.drainUntilClosed();
      const inKernel = slowEvents(slow);
      // The event whose broadcast took the node's buffer for the slow device past the cap (the
      // healthy device got it in the same broadcast): the cap was passed when it arrived.
      const eventBytes = PAD + 100;
      const passingEvent = cursor + inKernel + Math.ceil(CAP / eventBytes);
      const capPassedAt = healthyAt[passingEvent - 1] as number;
      const cutAfterCapMs = cut.time - capPassedAt;
      process.stdout.write(
        `[slow consumer ${transport}] cut at ${cut.bufferedBytes} B buffered, ${cutAfterCapMs} ms after the cap was passed ` +
          `(${cut.time - startedAt} ms after the first publish; ${inKernel} events, ${((inKernel * eventBytes) / MIB).toFixed(1)} MiB, ` +
          `were in the kernel's socket buffers); ${figures}\n`,
      );
      expect(cut.userId).toBe(user);
      expect(cut.bufferedBytes).toBeGreaterThan(CAP);
      expect(cutAfterCapMs).toBeLessThan(5_000);
      expect(growth).toBeLessThan(3 * CAP);

      // The slow device comes back with its cursor and reads: the inbox window, then the gap before it.
      const back = await device(url, defer, { token, transports: [transport], auth: { lastSeq: cursor } });
      const inboxMax = DEFAULT_INBOX_MAX;
      await waitFor(() => back.payloads('xp:gained').length >= inboxMax, {
        timeoutMs: 30_000,
        message: 'the slow device replayed the inbox',
      });
      const replayed = back.received
        .filter((r) => r.event === 'xp:gained')
        .map((r) => (r.args[1] as { seq: number }).seq);
      const last = WARM_UP + EVENTS;
      expect(replayed).toEqual(Array.from({ length: inboxMax }, (_, i) => last - inboxMax + 1 + i));
      expect(back.payloads('herald:gap')).toHaveLength(1);
      expect(healthySeqs.size).toBe(last);

      process.stdout.write(
        `[slow consumer ${transport}] healthy device got ${healthySeqs.size}/${last}; the slow one, back with its cursor, ` +
          `a gap then the last ${replayed.length} (the inbox window)\n`,
      );
    },
    // Two child processes, 6,000 events of 10 KB and a replay on two shared cores.
    120_000,
  );
});
