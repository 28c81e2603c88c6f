import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import {
  freePort,
  spawnApp,
  startRedisServer,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type RedisServerChild,
} from '@herald/testing';
import { percentile, recordClient } from './support-fallback.js';
import { printFigures, spawnDispatcher, spawnSocketNode, startPublisher, useCleanup } from './support.js';

/**
 * The bound every Redis-bound door must answer within (`HERALD_REDIS_TIMEOUT_MS`). Small
 * here so the test runs fast; run it with `HERALD_REDIS_TIMEOUT_MS=2000` for the default.
 */
const TIMEOUT_MS = Number(process.env.HERALD_REDIS_TIMEOUT_MS ?? 300);
/** A correctness bound, not a performance target: two shared cores, child processes, a burst of requests. */
const BOUND_MS = TIMEOUT_MS + 1_500;
const REQUESTS = 120;
const API_KEY = 'fail-fast-api-key-0123456789';

interface Answer {
  eventId: string;
  status: number;
  retryAfter: string | null;
  body: { id?: string; error?: { code: string; message: string } };
  ms: number;
}

/**
 * Redis stopped (the connection drops) and then paused with SIGSTOP (TCP stays up, Redis
 * answers nothing): every door that needs Redis answers within the bound (the publish API
 * and presence with 503 and Retry-After, /readyz with 503, the TypeScript publisher with
 * `unavailable`), a publish refused before it was sent is never delivered, and once Redis
 * is back everything works again with no restart: /readyz turns 200, new publishes reach a
 * real client, and each refused publish retried with the same eventId is delivered once.
 */
describe('while Redis is down', () => {
  const defer = useCleanup();

  it('every door answers within HERALD_REDIS_TIMEOUT_MS and all recovers by itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-fail-fast-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    // Appendonly, so what was sequenced before the stop (the user's seqs) survives it.
    const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let server: RedisServerChild = await startRedisServer({ args });
    defer(() => server.stop());
    const where = { prefix: uniquePrefix('ff'), redisUrl: server.url, stopWith: 'SIGTERM' as const };
    const timeoutEnv = { HERALD_REDIS_TIMEOUT_MS: String(TIMEOUT_MS) };
    const apiPort = await freePort();
    const api = spawnApp('publish-api', {
      REDIS_URL: server.url,
      HERALD_REDIS_PREFIX: where.prefix,
      HERALD_LOG_LEVEL: 'info',
      HERALD_API_KEY: API_KEY,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      ...timeoutEnv,
    });
    defer(() => api.stop('SIGTERM'));
    const [{ url: nodeUrl }] = await Promise.all([
      spawnSocketNode(defer, where, timeoutEnv),
      spawnDispatcher(defer, where, timeoutEnv),
      api.waitForOutput(/"msg":"listening"/, 60_000),
    ]);
    const publisher = startPublisher(defer, where, { redisTimeoutMs: TIMEOUT_MS });
    const user = uniqueUser('ff');
    const device = recordClient(nodeUrl, user, defer);
    await device.client.ready;

    const base = `http://127.0.0.1:${apiPort}`;
    const auth = { authorization: `Bearer ${API_KEY}` };
    const timed = async (path: string, init: RequestInit = {}) => {
      const started = performance.now();
      const res = await fetch(`${base}${path}`, { ...init, headers: { ...auth, ...init.headers } });
      const body = (await res.json()) as Answer['body'];
      return { res, body, ms: performance.now() - started };
    };
    const payloadOf = (eventId: string) => ({ amount: 1, source: eventId, totalXp: 1 });
    const publish = async (eventId: string): Promise<Answer> => {
      const { res, body, ms } = await timed('/v1/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'xp:gained', to: { user }, payload: payloadOf(eventId), eventId }),
      });
      return { eventId, status: res.status, retryAfter: res.headers.get('retry-after'), body, ms };
    };
    /** `count` publishes, `concurrency` at a time (a producer pool, not one client in a loop). */
    const burst = async (tag: string, count: number, concurrency: number) => {
      const answers: Answer[] = [];
      for (let i = 0; i < count; i += concurrency) {
        const wave = Array.from({ length: Math.min(concurrency, count - i) }, (_, j) => `${tag}-${i + j}`);
        answers.push(...(await Promise.all(wave.map(publish))));
      }
      return answers;
    };
    const readyz = () => timed('/readyz');
    const expectRefusedInTime = (answers: Answer[]) => {
      for (const a of answers) {
        expect(a.status, `${a.eventId}: ${JSON.stringify(a.body)}`).toBe(503);
        expect(a.retryAfter).toMatch(/^\d+$/);
        expect(a.body.error?.code).toBe('unavailable');
        expect(a.ms, a.eventId).toBeLessThan(BOUND_MS);
      }
    };
    /** The door checks every Redis-bound path of the publish API and the TypeScript publisher must pass. */
    const expectEveryDoorUnavailable = async () => {
      const presence = await timed(`/v1/presence/${user}`);
      expect(presence.res.status).toBe(503);
      expect(presence.res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(presence.ms).toBeLessThan(BOUND_MS);
      const ready = await readyz();
      expect(ready.res.status).toBe(503);
      expect(ready.body.error?.code).toBe('unavailable');
      expect(ready.ms).toBeLessThan(BOUND_MS);
      for (const attempt of [
        () => publisher.toUser(user).emit('xp:gained', payloadOf('ts'), { eventId: `ts-${Date.now()}` }),
        () => publisher.presence(user),
        () => publisher.isUserConnected(user),
      ]) {
        const started = performance.now();
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(HeraldError);
        expect((error as HeraldError).code).toBe('unavailable');
        expect(performance.now() - started).toBeLessThan(BOUND_MS);
      }
    };
    const untilReady = () =>
      waitFor(async () => (await readyz()).res.status === 200, {
        timeoutMs: 30_000,
        message: '/readyz 200 again',
      });
    const delivered = (eventId: string) => device.ids().filter((id) => id === eventId).length;

    expect((await publish('ff-before')).status).toBe(202);
    expect((await readyz()).res.status).toBe(200);
    await waitFor(() => delivered('ff-before') === 1, { timeoutMs: 30_000, message: 'ff-before handled' });

    // --- Redis stopped: the connection drops, doors answer at once ---------------------------
    const exited = once(server.process, 'exit');
    server.process.kill('SIGTERM');
    await exited;
    await waitFor(async () => (await readyz()).res.status === 503, { message: '/readyz 503' });
    const stopped = await burst('ff-stopped', REQUESTS, 10);
    expectRefusedInTime(stopped);
    await expectEveryDoorUnavailable();

    server = await startRedisServer({ port: server.port, args });
    await untilReady();
    expect((await publish('ff-after-restart')).status).toBe(202);
    await waitFor(() => delivered('ff-after-restart') === 1, {
      timeoutMs: 30_000,
      message: 'a publish after the restart handled by the client',
    });

    // --- Redis paused: TCP stays up, only the deadline answers -------------------------------
    server.process.kill('SIGSTOP');
    defer(() => server.process.kill('SIGCONT'));
    const paused = await burst('ff-paused', REQUESTS, 20);
    expectRefusedInTime(paused);
    await expectEveryDoorUnavailable();
    server.process.kill('SIGCONT');
    await untilReady();
    expect((await publish('ff-after-pause')).status).toBe(202);
    await waitFor(() => delivered('ff-after-pause') === 1, {
      timeoutMs: 30_000,
      message: 'a publish after the pause handled by the client',
    });

    // A refusal that says "not published" is true: none of those reached the client. (Those
    // refused after their MULTI was sent, while Redis was paused, may have.)
    const notSent = [...stopped, ...paused].filter((a) =>
      /was not published/.test(a.body.error?.message ?? ''),
    );
    const maybeSent = [...stopped, ...paused].filter((a) =>
      /may still be published/.test(a.body.error?.message ?? ''),
    );
    expect(notSent.length + maybeSent.length).toBe(2 * REQUESTS);
    for (const a of notSent) expect(delivered(a.eventId), a.eventId).toBe(0);

    // Retried with the same eventId, as a producer does after a 503 (again after another 503:
    // Redis works through what queued up while it was paused), each refused publish is
    // accepted with that id and handled once.
    let extraRetries = 0;
    const retry = async (eventId: string): Promise<Answer> => {
      for (let attempt = 1; ; attempt++) {
        const answer = await publish(eventId);
        if (answer.status !== 503 || attempt === 5) return answer;
        extraRetries += 1;
        await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter) * 1_000));
      }
    };
    const retried: Answer[] = [];
    const refused = [...stopped, ...paused];
    for (let i = 0; i < refused.length; i += 20) {
      retried.push(...(await Promise.all(refused.slice(i, i + 20).map((a) => retry(a.eventId)))));
    }
    for (const a of retried) expect(a).toMatchObject({ status: 202, body: { id: a.eventId } });
    await waitFor(() => retried.every((a) => delivered(a.eventId) >= 1), {
      timeoutMs: 60_000,
      message: 'every retried publish handled',
    });
    for (const a of retried) expect(delivered(a.eventId), a.eventId).toBe(1);
    expect(device.gaps()).toEqual([]);

    const times = (answers: Answer[]) => answers.map((a) => a.ms);
    const figures = (answers: Answer[]) =>
      `p50 ${percentile(times(answers), 50).toFixed(0)} ms, p99 ${percentile(times(answers), 99).toFixed(0)} ms, max ${Math.max(...times(answers)).toFixed(0)} ms`;
    printFigures(
      'fail-fast',
      `HERALD_REDIS_TIMEOUT_MS=${TIMEOUT_MS}: Redis stopped: ${stopped.length} publishes over HTTP → 503 + Retry-After, ${figures(stopped)}; ` +
        `Redis paused (SIGSTOP): ${paused.length} publishes → 503, ${figures(paused)} ` +
        `(${paused.filter((a) => maybeSent.includes(a)).length} told "may still be published", the rest "not published"); ` +
        `after each, /readyz 200 and delivery resumed with no restart; ${retried.length} retries with the same eventId (${extraRetries} of them retried again after another 503) each handled once`,
    );
  });
});
