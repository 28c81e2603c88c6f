import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { closeRedis, createKeys, createRedis } from '@herald/core';
import {
  connectError,
  mintToken,
  startRedisServer,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type RedisServerChild,
} from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup } from './support.js';

/** Small, so the test is quick; the bound below is about correctness, not speed. */
const REDIS_TIMEOUT_MS = 500;
/** Generous: two shared cores, a test process and a node in it. */
const MARGIN_MS = 2_000;
const BOUND_MS = REDIS_TIMEOUT_MS + MARGIN_MS;

/** Runs `work` and resolves with its result and duration; rejects when it takes longer than `boundMs`. */
async function timed<T>(work: () => Promise<T>, what: string, boundMs = BOUND_MS * 2) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${boundMs} ms`)), boundMs);
  });
  try {
    const value = await Promise.race([work(), hung]);
    return { value, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A private redis-server is stopped (connection refused) and then frozen (SIGSTOP: the TCP
 * connection stays up, nothing answers) under a node with a 500 ms Redis timeout. Each
 * door that needs Redis answers within the timeout plus a margin instead of hanging: a
 * handshake (websocket and polling) gets `connect_error` `unavailable`, `/readyz` 503, a
 * connected device's `notification:mark_read` and `herald:sync` acks say `unavailable`.
 * When Redis is back, with no restart of the node, `/readyz` is 200, handshakes succeed
 * and emitted events reach old and new devices.
 */
describe('a socket node while Redis is down', () => {
  const defer = useCleanup();

  it('answers unavailable within the Redis timeout, and serves again when Redis is back', async () => {
    let server: RedisServerChild = await startRedisServer();
    defer(() => {
      // A frozen server would ignore the SIGTERM of stop() if the test failed while frozen.
      server.process.kill('SIGCONT');
      return server.stop();
    });
    const prefix = uniquePrefix('down');
    const { url } = await startTestNode(prefix, defer, {
      redisUrl: server.url,
      redisTimeoutMs: REDIS_TIMEOUT_MS,
    });
    const user = uniqueUser();
    const token = mintToken(user);
    const early = await device(url, defer, { token });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const readyz = async () => (await fetch(`${url}/readyz`)).status;
    const markRead = () =>
      early.socket.timeout(BOUND_MS * 2).emitWithAck('notification:mark_read', { notificationId: 'n-1' });
    const sync = () => early.socket.timeout(BOUND_MS * 2).emitWithAck('herald:sync', { lastSeq: 0 });
    const figures: string[] = [];

    const phases: Array<{ name: string; start: () => Promise<void>; end: () => Promise<void> }> = [
      {
        name: 'stopped',
        start: async () => {
          const exited = once(server.process, 'exit');
          server.process.kill('SIGKILL');
          await exited;
        },
        end: async () => {
          server = await startRedisServer({ port: server.port });
        },
      },
      {
        name: 'frozen',
        start: () => Promise.resolve(void server.process.kill('SIGSTOP')),
        end: () => Promise.resolve(void server.process.kill('SIGCONT')),
      },
    ];

    for (const phase of phases) {
      await phase.start();
      const refusedWs = await timed(() => connectError(url, { token }), `${phase.name}: websocket handshake`);
      const refusedPolling = await timed(
        () => connectError(url, { token, transports: ['polling'] }),
        `${phase.name}: polling handshake`,
      );
      const probe = await timed(readyz, `${phase.name}: /readyz`);
      const marked = await timed(markRead, `${phase.name}: mark_read`);
      const synced = await timed(sync, `${phase.name}: herald:sync`);

      expect(refusedWs.value).toBe('unavailable');
      expect(refusedPolling.value).toBe('unavailable');
      expect(probe.value).toBe(503);
      expect(marked.value).toMatchObject({ accepted: false, code: 'unavailable' });
      expect(synced.value).toMatchObject({ accepted: false, code: 'unavailable' });
      for (const { ms } of [refusedWs, refusedPolling, probe, marked, synced])
        expect(ms).toBeLessThan(BOUND_MS);
      figures.push(
        `${phase.name}: websocket handshake refused in ${refusedWs.ms} ms, polling ${refusedPolling.ms} ms, ` +
          `/readyz 503 in ${probe.ms} ms, mark_read ack ${marked.ms} ms, sync ack ${synced.ms} ms`,
      );

      await phase.end();
      const backAt = performance.now();
      await waitFor(async () => (await readyz()) === 200, {
        timeoutMs: 15_000,
        message: `${phase.name}: ready again once Redis is back`,
      });
      const readyAfterMs = Math.round(performance.now() - backAt);
      const late = await device(url, defer, { token });
      expect(await markRead()).toEqual({ accepted: true });
      // Both the device that stayed through the outage and the new one get events again.
      const redis = createRedis(server.url);
      const delivered = [nextEvent(early, 'notification:new'), nextEvent(late, 'notification:new')];
      await createEmitter(redis, createKeys(prefix))
        .to(`user:${user}`)
        .emit('notification:new', { notification: { title: phase.name } }, { id: phase.name, ts: 1 });
      for (const got of await Promise.all(delivered))
        expect(got[0]).toEqual({ notification: { title: phase.name } });
      await closeRedis(redis);
      late.close();
      figures.push(
        `${phase.name}: /readyz 200 ${readyAfterMs} ms after Redis was back; handshake, mark_read and delivery work again`,
      );
    }
    for (const line of figures)
      process.stdout.write(`[redis down] HERALD_REDIS_TIMEOUT_MS=${REDIS_TIMEOUT_MS}; ${line}\n`);
  });
});
