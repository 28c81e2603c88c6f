import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import { startSocketNode } from '@herald/socket-node';
import {
  TEST_JWT_SECRET,
  freePort,
  spawnApp,
  startRedisServer,
  uniquePrefix,
  waitFor,
  type AppProcess,
  type RedisServerChild,
} from '@herald/testing';

/**
 * Part of "Ctrl+C on `pnpm start` is unclean": the stack once died on stop with an uncaught
 * "Connection is closed.". @socket.io/redis-adapter's close() sends UNSUBSCRIBE and
 * PUNSUBSCRIBE without handling their promises; while the connection is not ready they wait
 * in ioredis's offline queue, and disconnecting rejects them. Vitest fails a run that has an
 * unhandled rejection, so this test fails when they go unhandled again.
 */
describe('stopping while Redis does not answer', () => {
  let server: RedisServerChild | undefined;
  let blackHole: Server | undefined;
  const accepted: Socket[] = [];
  let app: AppProcess | undefined;

  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
    for (const socket of accepted.splice(0)) socket.destroy();
    blackHole?.close();
    blackHole = undefined;
    await server?.stop();
    server = undefined;
  });

  it('the socket node (its close unsubscribes the Redis adapter) closes with no unhandled rejection', async () => {
    server = await startRedisServer();
    const node = await startSocketNode({
      redisUrl: server.url,
      prefix: uniquePrefix('stop'),
      jwtSecret: TEST_JWT_SECRET,
      port: 0,
      logger: silentLogger(),
    });
    // Redis goes away, and on its port something accepts connections but never answers
    // (as a Redis in the middle of shutting down may): ioredis reconnects, is never ready,
    // and queues commands offline.
    server.process.kill('SIGKILL');
    await once(server.process, 'exit');
    blackHole = createServer((socket) => accepted.push(socket));
    blackHole.listen(server.port, '127.0.0.1');
    await once(blackHole, 'listening');
    // Both of the node's connections (commands and subscriber) came back.
    await waitFor(() => accepted.length >= 2, { timeoutMs: 10_000, message: 'the node did not reconnect' });

    await node.close();
    // Unhandled rejections are reported once the rejecting tick is over.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(node.httpServer.listening).toBe(false);
  }, 30_000);

  it('Ctrl+C on a stack whose REDIS_URL Redis went away exits within its close budget, saying so in one line', async () => {
    server = await startRedisServer();
    app = spawnApp('local-stack', {
      PORT: String(await freePort()),
      REDIS_URL: server.url,
      HERALD_REDIS_PREFIX: uniquePrefix('stop'),
      HERALD_DEMO_INTERVAL_MS: '200',
    });
    await app.waitForOutput(/^Herald is running on /m, 60_000);
    server.process.kill('SIGKILL');
    await once(server.process, 'exit');

    const sentAt = Date.now();
    const code = await app.stop('SIGINT');
    const stopMs = Date.now() - sentAt;
    process.stdout.write(`[stop] with its Redis gone: exit ${code} in ${stopMs} ms\n`);
    const output = app.output();
    // Pieces waiting for Redis are left behind after the stack's 2 s close budget, well
    // before the 10 s shutdown timeout; the exit code says the stop was not clean.
    expect(code).toBe(1);
    expect(stopMs).toBeLessThan(8_000);
    expect(output).toMatch(/Stopped without waiting for .* while Redis does not answer/);
    expect(output).not.toContain('shutdown timed out');
    // Connection errors are logged as JSON lines. Nothing is printed raw: an uncaught
    // exception ("Error: Connection is closed." and its stack) or ioredis's "Unhandled error event".
    const afterSignal = output.slice(output.lastIndexOf('\n', output.indexOf('"shutting down"')) + 1);
    const raw = afterSignal.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
    expect(raw).toEqual([]);
  }, 90_000);
});
