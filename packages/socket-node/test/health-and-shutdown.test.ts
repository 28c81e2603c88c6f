import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { mintToken, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import {
  createEmitter,
  device,
  nextEvent,
  spawnNode,
  startTestNode,
  useCleanup,
  useRedis,
} from './support.js';

/**
 * A TCP relay in front of the test Redis that can be cut and restored, to see the
 * node through a Redis outage without disturbing the Redis other tests share.
 */
async function startRedisRelay(target: URL) {
  const open = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('health and shutdown', () => {
  const defer = useCleanup();

  it('answers /healthz and /readyz, hands other routes to httpHandler, and 404s the rest', async () => {
    const prefix = uniquePrefix('health');
    const { url } = await startTestNode(prefix, defer, {
      httpHandler: (req, res) => {
        if (req.url === '/hello') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('hi');
          return true;
        }
        if (req.url === '/boom') throw new Error('handler bug');
        return false;
      },
    });

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });

    expect(await (await fetch(`${url}/hello`)).text()).toBe('hi');
    const missing = await fetch(`${url}/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 'not_found', message: 'No route for GET /nope' });
    const boom = await fetch(`${url}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toMatchObject({ code: 'internal' });
    // A failing route does not take the node down.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('reports not ready while Redis is unreachable, and ready again when it is back', async () => {
    const relay = await startRedisRelay(new URL(inject('redisUrl')));
    defer(() => relay.close());
    const prefix = uniquePrefix('health');
    const { url, node } = await startTestNode(prefix, defer, { redisUrl: relay.url });
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { message: 'ready at start' });

    relay.cut();
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, {
      message: 'not ready without Redis',
    });
    const body = (await (await fetch(`${url}/readyz`)).json()) as { status: string };
    expect(body.status).toBe('unavailable');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    relay.restore();
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      message: 'ready again once Redis is back',
    });
    // And it works again end to end.
    const { redis, keys, presence } = useRedis(prefix, defer);
    const user = uniqueUser();
    const d = await device(url, defer, { token: mintToken(user) });
    expect(await presence.isOnline(user)).toBe(true);
    // The adapter subscribed again after the reconnect: emitted events still arrive.
    const delivered = nextEvent(d, 'notification:new');
    await createEmitter(redis, keys)
      .to(`user:${user}`)
      .emit('notification:new', { notification: { title: 'back' } }, { id: 'e-1', ts: 1 });
    expect((await delivered)[0]).toEqual({ notification: { title: 'back' } });
    await node.close();
  });

  it('on SIGTERM disconnects its clients, removes their presence and exits 0 within 10 s', async () => {
    const prefix = uniquePrefix('shutdown');
    // Default TTL (20 s): if presence were not removed, the users would still look online after the exit.
    const spawned = await spawnNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    expect((await fetch(`${spawned.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${spawned.url}/readyz`)).status).toBe(200);

    const users = [uniqueUser(), uniqueUser()];
    const devices = [
      await device(spawned.url, defer, { token: mintToken(users[0]!) }),
      await device(spawned.url, defer, { token: mintToken(users[0]!), transports: ['polling'] }),
      await device(spawned.url, defer, { token: mintToken(users[1]!) }),
    ];
    expect([...(await presence.onlineAmong(users))].sort()).toEqual([...users].sort());
    const disconnected = devices.map(
      (d) => new Promise<string>((resolve) => d.socket.once('disconnect', (reason) => resolve(reason))),
    );

    const started = Date.now();
    const exitCode = await Promise.race([
      spawned.app.stop('SIGTERM'),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000)),
    ]);
    const tookMs = Date.now() - started;
    process.stdout.write(`[shutdown] SIGTERM to exit: ${tookMs} ms\n`);
    expect(exitCode).toBe(0);
    const reasons = await Promise.all(disconnected);
    expect(reasons).toHaveLength(3);
    expect([...(await presence.onlineAmong(users))]).toEqual([]);
    expect(spawned.app.output()).toMatch(/"msg":"stopped"/);
  });
});
