import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientEventRecord, clientEventSchemas } from '@herald/contracts';
import { mintToken, pinoLines, sleep, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  frameInput,
  httpRequestInput,
  int,
  pollingInput,
  prng,
  rawHttpInput,
  type Random,
} from './malformed-inputs.js';
import { openRawWebSocket, type RawWebSocket } from './raw-websocket.js';
import { createEmitter, device, spawnNode, useCleanup, useRedis } from './support.js';

/** How the 10,000 inputs are spread over the ways in; workers of one kind run side by side. */
const PLAN = {
  websocketAuthenticated: { workers: 2, inputs: 1_750 },
  websocketAnonymous: { workers: 2, inputs: 1_250 },
  pollingAuthenticated: { workers: 2, inputs: 750 },
  pollingAnonymous: { workers: 2, inputs: 750 },
  httpRequests: { workers: 2, inputs: 350 },
  rawHttp: { workers: 2, inputs: 150 },
};
const TOTAL_INPUTS = Object.values(PLAN).reduce((sum, p) => sum + p.workers * p.inputs, 0);
/** A polling session takes this many inputs before the client closes it and opens a new one. */
const INPUTS_PER_POLLING_SESSION = 50;
const WS_PATH = '/socket.io/';
const MIB = 1024;
/** The node's message limit (Engine.IO's maxHttpBufferSize), set explicitly: polling bodies above it get special handling. */
const MAX_MESSAGE_BYTES = 65_536;

/** Tallies what was sent and how the server answered, by input kind. */
class Tally {
  readonly byKind = new Map<string, number>();
  readonly outcomes = new Map<string, number>();
  sent = 0;
  count(kind: string): void {
    this.sent += 1;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }
  outcome(label: string): void {
    this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1);
  }
}

/** fetch takes bytes as a Uint8Array (its types do not know Node's Buffer). */
const asBody = (body: string | Buffer): string | Uint8Array<ArrayBuffer> =>
  typeof body === 'string' ? body : new Uint8Array(body);

async function rssKiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

describe('malformed input', () => {
  const defer = useCleanup();

  it('10,000 malformed inputs over raw websocket, polling and HTTP: the node keeps serving, RSS stays flat, only valid events reach the stream', async (context) => {
    const seed = Number(process.env.HERALD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`\n[fuzz] seed ${seed} (replay with HERALD_FUZZ_SEED=${seed})\n`);
    const prefix = uniquePrefix('fuzz');
    // Limits off: the point is that malformed input is handled, not that it is rate limited.
    const { app, url, port } = await spawnNode(prefix, defer, {
      HERALD_CLIENT_EVENT_RATE: '0',
      HERALD_HANDSHAKE_RATE: '0',
      HERALD_MAX_DEVICES_PER_USER: '0',
      HERALD_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      HERALD_LOG_LEVEL: 'info',
    });
    const pid = app.child.pid as number;
    const { redis, keys } = useRedis(prefix, defer);

    // The well-behaved client: receives a probe event every 50 ms and sends mark_read every 100 ms.
    const goodUser = uniqueUser('good');
    const good = await device(url, defer, { token: mintToken(goodUser) });
    const emitter = createEmitter(redis, keys);
    const probes = { sent: 0 };
    const acks = { sent: 0, accepted: 0, refused: 0, failed: 0, maxMs: 0 };
    const probeTimer = setInterval(() => {
      void emitter
        .to(`user:${goodUser}`)
        .emit(
          'xp:gained',
          { amount: probes.sent, source: 'probe', totalXp: 0 },
          { id: `probe-${probes.sent}`, ts: Date.now() },
        );
      probes.sent += 1;
    }, 50);
    const ackTimer = setInterval(() => {
      const started = performance.now();
      acks.sent += 1;
      good.socket
        .timeout(10_000)
        .emitWithAck('notification:mark_read', { notificationId: `good-${acks.sent}` })
        .then(
          (result: { accepted: boolean }) => {
            if (result.accepted) acks.accepted += 1;
            else acks.refused += 1;
            acks.maxMs = Math.max(acks.maxMs, performance.now() - started);
          },
          () => (acks.failed += 1),
        );
    }, 100);
    defer(() => clearInterval(probeTimer));
    defer(() => clearInterval(ackTimer));

    await sleep(300);
    const before = await rssKiB(pid);
    const started = performance.now();

    const fuzzUsers = [uniqueUser('fuzz'), uniqueUser('fuzz')];
    const tokens = fuzzUsers.map((u) => mintToken(u));
    const tally = new Tally();
    const rawAccepted = { count: 0 };
    const random = prng(seed);
    const workerRandom = (): Random => prng(Math.floor(random() * 2 ** 31));

    /** Raw websocket sessions, authenticated (valid JWT, then garbage) or never authenticated. */
    async function websocketWorker(r: Random, inputs: number, authenticated: boolean, token: string) {
      let ws: RawWebSocket | undefined;
      const open = async (): Promise<RawWebSocket> => {
        const opened = await openRawWebSocket(port, `${WS_PATH}?EIO=4&transport=websocket`);
        await opened.waitForMessage((m) => m.startsWith('0{'));
        if (authenticated) {
          opened.sendText(`40${JSON.stringify({ token })}`);
          await opened.waitForMessage((m) => m.startsWith('42["authenticated"'));
        } else if (r() < 0.5) {
          // Half of the anonymous sessions try to connect without a token first and are refused.
          opened.sendText(r() < 0.5 ? '40' : `40{"token":"${'x'.repeat(int(r, 1, 100))}"}`);
        }
        tally.outcome(authenticated ? 'ws sessions (authenticated)' : 'ws sessions (anonymous)');
        return opened;
      };
      for (let i = 0; i < inputs; i++) {
        ws = ws && !ws.closed ? ws : await open();
        const input = frameInput(r, token);
        for (const frame of input.frames) ws.sendFrame(frame);
        tally.count(`ws: ${input.kind}`);
        if (input.abandon || input.kind.includes('namespace DISCONNECT')) {
          // The client ends it (a truncated frame, or a namespace it left): the next input needs a new session.
          ws.destroy();
          await ws.ended;
          ws = undefined;
          continue;
        }
        if (input.fatal === true) await Promise.race([ws.ended, sleep(1_000)]);
        else if (input.fatal === 'maybe') await Promise.race([ws.ended, sleep(10)]);
        if (ws.closed) tally.outcome(`ws closed by the server (code ${ws.closeCode ?? 'none'})`);
      }
      if (ws) {
        rawAccepted.count += ws.messages.filter((m) => /^43\d+\[\{"accepted":true/.test(m)).length;
        ws.destroy();
      }
    }

    /** Raw HTTP long-polling sessions; each takes a few dozen bodies, then the client closes it. */
    async function pollingWorker(r: Random, inputs: number, authenticated: boolean, token: string) {
      const base = `${url}${WS_PATH}?EIO=4&transport=polling`;
      let sid: string | undefined;
      let used = 0;
      const open = async () => {
        const handshake = await (await fetch(base)).text();
        sid = (JSON.parse(handshake.slice(1)) as { sid: string }).sid;
        used = 0;
        if (authenticated) {
          await (await post(`40${JSON.stringify({ token })}`, 'text/plain;charset=UTF-8')).text();
          let received = '';
          // Each GET returns as soon as the server has something; the welcome follows the CONNECT.
          while (!received.includes('"authenticated"'))
            received += await (await fetch(`${base}&sid=${sid}`)).text();
        }
        tally.outcome(authenticated ? 'polling sessions (authenticated)' : 'polling sessions (anonymous)');
      };
      const post = (body: string | Buffer, contentType: string, closeAfter = false) =>
        fetch(`${base}&sid=${sid}`, {
          method: 'POST',
          body: asBody(body),
          headers: { 'content-type': contentType, ...(closeAfter ? { connection: 'close' } : {}) },
        });
      for (let i = 0; i < inputs; i++) {
        if (sid === undefined) await open();
        const input = pollingInput(r, token);
        const bytes = Buffer.byteLength(input.body);
        tally.count(`polling: ${input.kind}`);
        used += 1;
        // Why this flaked ("fetch failed … other side closed", 1 run in 2 of the full suite):
        // for a body over the limit Engine.IO writes 413, with `Connection: keep-alive`, and
        // destroys the connection without reading the rest (transports/polling.js). fetch's
        // pool took that connection back as reusable, and the next request (this worker's
        // handshake for a new session, or another worker's) could go out on it before the
        // close was seen. So a body over the limit goes with `Connection: close`: its
        // connection is never reused. Its own POST may see the close before the 413 (EPIPE,
        // ECONNRESET) when the client is still sending: both are the server refusing it. A
        // body within the limit is read and answered, so a failed request for one still
        // fails the test, as does a 200 for one over the limit.
        const oversized = bytes > MAX_MESSAGE_BYTES;
        const res = await post(input.body, input.contentType, oversized)
          .then(async (answer) => {
            await answer.arrayBuffer();
            return answer;
          })
          .catch((error: unknown) => {
            if (oversized) return undefined;
            throw new Error(`polling POST of "${input.kind}" (${bytes} bytes) got no answer`, {
              cause: error,
            });
          });
        if (res === undefined) {
          tally.outcome('polling POST over the limit → connection closed');
          sid = undefined;
          continue;
        }
        // Over the limit: refused (413), or 400 when an earlier input already ended the session.
        if (oversized) expect(res.status, `polling POST of ${bytes} bytes: ${input.kind}`).not.toBe(200);
        else expect(res.status, `polling POST of ${bytes} bytes: ${input.kind}`).not.toBe(413);
        tally.outcome(`polling POST${oversized ? ' over the limit' : ''} → ${res.status}`);
        if (res.status !== 200) sid = undefined;
        else if (used >= INPUTS_PER_POLLING_SESSION) {
          await (await post('1', 'text/plain;charset=UTF-8')).arrayBuffer();
          sid = undefined;
        }
      }
      if (sid !== undefined) await (await post('1', 'text/plain;charset=UTF-8')).arrayBuffer();
    }

    async function httpWorker(r: Random, inputs: number) {
      for (let i = 0; i < inputs; i++) {
        const input = httpRequestInput(r, WS_PATH);
        const res = await fetch(`${url}${input.path}`, {
          method: input.method,
          headers: input.headers,
          ...(input.body === undefined ? {} : { body: asBody(input.body) }),
        }).catch((error: unknown) => error as Error);
        tally.count(`http: ${input.kind}`);
        if (res instanceof Error) tally.outcome(`http → connection error`);
        else {
          await res.arrayBuffer();
          tally.outcome(`http → ${res.status}`);
        }
      }
    }

    async function rawHttpWorker(r: Random, inputs: number) {
      for (let i = 0; i < inputs; i++) {
        const input = rawHttpInput(r, WS_PATH);
        tally.count(`tcp: ${input.kind}`);
        const answer = await new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          let first = '';
          const done = (label: string) => {
            socket.destroy();
            resolve(label);
          };
          socket.on('error', () => done('reset'));
          socket.on('data', (chunk: Buffer) => {
            first ||= chunk.toString('latin1').split('\r\n')[0] ?? '';
            done(first.slice(0, 12));
          });
          socket.on('close', () => done(first ? first.slice(0, 12) : 'closed without answer'));
          // A request that stops half-way gets no answer until the server's timeouts: do not wait for them.
          socket.setTimeout(300, () => done('no answer within 300 ms'));
          socket.write(input.bytes);
        });
        tally.outcome(`tcp → ${answer}`);
      }
    }

    const workers: Array<Promise<void>> = [];
    const repeat = (n: number, start: (i: number) => Promise<void>) => {
      for (let i = 0; i < n; i++) workers.push(start(i));
    };
    repeat(PLAN.websocketAuthenticated.workers, (i) =>
      websocketWorker(
        workerRandom(),
        PLAN.websocketAuthenticated.inputs,
        true,
        tokens[i % tokens.length] as string,
      ),
    );
    repeat(PLAN.websocketAnonymous.workers, () =>
      websocketWorker(workerRandom(), PLAN.websocketAnonymous.inputs, false, tokens[0] as string),
    );
    repeat(PLAN.pollingAuthenticated.workers, (i) =>
      pollingWorker(
        workerRandom(),
        PLAN.pollingAuthenticated.inputs,
        true,
        tokens[i % tokens.length] as string,
      ),
    );
    repeat(PLAN.pollingAnonymous.workers, () =>
      pollingWorker(workerRandom(), PLAN.pollingAnonymous.inputs, false, tokens[0] as string),
    );
    repeat(PLAN.httpRequests.workers, () => httpWorker(workerRandom(), PLAN.httpRequests.inputs));
    repeat(PLAN.rawHttp.workers, () => rawHttpWorker(workerRandom(), PLAN.rawHttp.inputs));
    await Promise.all(workers);
    const fuzzMs = Math.round(performance.now() - started);

    // The well-behaved client got through all of it: every probe, in order, and every ack.
    clearInterval(probeTimer);
    clearInterval(ackTimer);
    await waitFor(() => good.payloads('xp:gained').length === probes.sent, {
      timeoutMs: 10_000,
      message: `the good client received all ${probes.sent} probes`,
    });
    await waitFor(() => acks.accepted + acks.refused + acks.failed === acks.sent, {
      timeoutMs: 15_000,
      message: 'every mark_read of the good client was answered',
    });
    expect(good.socket.connected).toBe(true);
    expect(good.payloads('xp:gained').map((p) => (p as { amount: number }).amount)).toEqual(
      Array.from({ length: probes.sent }, (_, i) => i),
    );
    expect(acks).toMatchObject({ accepted: acks.sent, refused: 0, failed: 0 });

    // The node is alive and answers, and a newcomer still gets in.
    await sleep(500);
    const after = await rssKiB(pid);
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const lateUser = uniqueUser('late');
    const newcomer = await device(url, defer, { token: mintToken(lateUser) });
    expect(
      await newcomer.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'late' }),
    ).toEqual({
      accepted: true,
    });

    // Nothing unvalidated reached the client-events stream: every entry parses with the contracts.
    const entries = (await redis.xrange(keys.clientEvents, '-', '+')) as Array<[string, string[]]>;
    const invalid: string[] = [];
    const perUser = new Map<string, number>();
    for (const [id, fields] of entries) {
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
      let payload: unknown;
      try {
        payload = JSON.parse(map.get('payload') ?? '');
      } catch {
        invalid.push(`${id}: payload is not JSON`);
        continue;
      }
      const record = ClientEventRecord.safeParse({
        id,
        type: map.get('type'),
        userId: map.get('userId'),
        payload,
        socketId: map.get('socketId'),
        nodeId: map.get('nodeId'),
        ts: Number(map.get('ts')),
      });
      const schema = record.success
        ? (clientEventSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>)[
            record.data.type
          ]
        : undefined;
      if (!record.success || !schema || !schema.safeParse(payload).success || map.size !== 6) {
        invalid.push(`${id}: ${JSON.stringify(Object.fromEntries(map)).slice(0, 200)}`);
        continue;
      }
      perUser.set(record.data.userId, (perUser.get(record.data.userId) ?? 0) + 1);
    }
    expect(invalid).toEqual([]);
    // Only users that hold a token ever appear, whatever userId a payload named.
    expect([...perUser.keys()].filter((u) => ![goodUser, lateUser, ...fuzzUsers].includes(u))).toEqual([]);
    // Exactly the good client's accepted events, no more, no fewer.
    expect(perUser.get(goodUser)).toBe(acks.accepted);

    // Bad input is answered, never an internal error: no error or fatal line in the node's log.
    const errorLines = pinoLines(app.output()).filter(
      (l) => (JSON.parse(l) as { level: number }).level >= 50,
    );
    expect(errorLines.slice(0, 5)).toEqual([]);

    const figures = {
      seed,
      inputs: tally.sent,
      fuzzMs,
      rssBeforeMiB: Math.round(before.rss / MIB),
      rssAfterMiB: Math.round(after.rss / MIB),
      peakRssMiB: Math.round(after.peak / MIB),
      probes: probes.sent,
      goodAcks: acks.accepted,
      goodAckMaxMs: Math.round(acks.maxMs),
      streamEntries: entries.length,
      rawAcceptedAcks: rawAccepted.count,
    };
    context.task.meta.figures = figures;
    const kinds = [...tally.byKind.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `    ${n} × ${k}`);
    const outcomes = [...tally.outcomes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `    ${n} × ${k}`);
    process.stdout.write(
      `[fuzz] ${tally.sent} inputs in ${fuzzMs} ms (seed ${seed}); node RSS ${figures.rssBeforeMiB} MiB before, ` +
        `${figures.rssAfterMiB} MiB after (peak ${figures.peakRssMiB} MiB); good client: ${probes.sent}/${probes.sent} probes, ` +
        `${acks.accepted}/${acks.sent} acks (slowest ${figures.goodAckMaxMs} ms); stream: ${entries.length} entries, all valid\n` +
        `[fuzz] inputs by kind:\n${kinds.join('\n')}\n[fuzz] outcomes:\n${outcomes.join('\n')}\n`,
    );
    expect(tally.sent).toBe(TOTAL_INPUTS);
    expect(after.rss - before.rss).toBeLessThan(100 * MIB);
  });
});

declare module 'vitest' {
  interface TaskMeta {
    figures?: Record<string, number>;
  }
}
