import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  connectDevice,
  freePort,
  portAnswers,
  spawnApp,
  uniquePrefix,
  waitFor,
  type AppProcess,
  type Device,
} from '@herald/testing';

/** What `pnpm start` prints and a person copies from the terminal. */
interface RunningStack {
  app: AppProcess;
  base: string;
  userId: string;
  token: string;
  apiKey: string;
}

/** Figures for the closing note (printed, never asserted). */
function report(line: string): void {
  process.stdout.write(`[local-stack] ${line}\n`);
}

const apps: AppProcess[] = [];
const devices: Device[] = [];

afterEach(async () => {
  for (const device of devices.splice(0)) device.close();
  // A test that failed half-way must not leave a stack (and its private redis-server) running.
  for (const app of apps.splice(0)) await app.stop('SIGKILL');
});

async function startStack(env: Record<string, string>): Promise<RunningStack> {
  const port = await freePort();
  const app = spawnApp('local-stack', {
    PORT: String(port),
    HERALD_DEMO_INTERVAL_MS: '300',
    HERALD_REDIS_PREFIX: uniquePrefix('stack'),
    ...env,
  });
  apps.push(app);
  const [, url] = await app.waitForOutput(/^Herald is running on (\S+)$/m, 90_000);
  const [, userId, token] = await app.waitForOutput(/^Dev token \(user ([^)]+)\): (\S+)$/m);
  const [, apiKey] = await app.waitForOutput(/^Dev API key: (\S+)$/m);
  expect(url).toBe(`http://localhost:${port}`);
  // 127.0.0.1 rather than localhost: the stack listens on IPv4 loopback.
  return { app, base: `http://127.0.0.1:${port}`, userId: userId!, token: token!, apiKey: apiKey! };
}

async function connect(stack: RunningStack): Promise<Device> {
  const device = await connectDevice(stack.base, { token: stack.token, transports: ['websocket'] });
  devices.push(device);
  return device;
}

type NewNotification = { notification: { id?: string; title: string; message?: string }; timestamp?: string };

async function nextNotification(device: Device, match: (payload: NewNotification) => boolean) {
  return waitFor(
    () =>
      device.received.find((r) => r.event === 'notification:new' && match(r.args[0] as NewNotification)) as
        { event: string; args: [NewNotification, { id: string; ts: number }] } | undefined,
    { timeoutMs: 15_000, message: 'notification:new did not arrive' },
  );
}

async function stopAndTime(stack: RunningStack): Promise<number | null> {
  const startedAt = Date.now();
  const code = await stack.app.stop('SIGTERM');
  report(`SIGTERM → exit ${code} in ${Date.now() - startedAt} ms`);
  // The stack's last lines say which piece did not close, when one did not.
  if (code !== 0)
    report(`stack output, last lines:\n${stack.app.output().split('\n').slice(-15).join('\n')}`);
  return code;
}

describe('pnpm start (the local stack)', () => {
  it('serves health, the demo page, live demo notifications, mark_read and the publish API, then stops on SIGTERM', async () => {
    const startedAt = Date.now();
    const stack = await startStack({ REDIS_URL: inject('redisUrl') });
    report(`ready (REDIS_URL) in ${Date.now() - startedAt} ms`);
    expect(stack.app.output()).toMatch(/^Redis: REDIS_URL$/m);
    expect(stack.userId).toBe('demo-user');

    const health = await fetch(`${stack.base}/healthz`);
    expect(health.status).toBe(200);

    const page = await fetch(`${stack.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain(stack.token);
    expect(html).toContain('/demo/socket.io.js');
    // The client script the page loads, served on the same port.
    expect((await fetch(`${stack.base}/demo/socket.io.js`)).status).toBe(200);

    const device = await connect(stack);
    expect(device.payloads('authenticated')[0]).toEqual({
      success: true,
      userId: 'demo-user',
      email: 'demo@localhost',
      // The example service may already have sent some: the user's latest seq.
      seq: expect.any(Number) as number,
    });

    const [demo, demoMeta] = (
      await nextNotification(device, (p) => /^Demo notification #\d+$/.test(p.notification.title))
    ).args;
    expect(demo.notification.id).toBeTruthy();
    expect(typeof demoMeta.id).toBe('string');
    expect(typeof demoMeta.ts).toBe('number');

    // mark_read goes through the client-events stream to the example service, which answers.
    const notificationId = demo.notification.id!;
    const ack = await device.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId });
    expect(ack).toEqual({ accepted: true });
    await waitFor(
      () =>
        device
          .payloads('notification:read')
          .some(
            (p) =>
              (p as { notificationId: string; success: boolean }).notificationId === notificationId &&
              (p as { success: boolean }).success,
          ),
      { timeoutMs: 15_000, message: 'notification:read did not arrive' },
    );
    expect(device.payloads('notification:unread_count').length).toBeGreaterThan(0);

    // The printed key publishes over HTTP; a wrong one is refused.
    const body = {
      event: 'notification:new',
      to: { user: stack.userId },
      payload: { notification: { title: 'Hello from the smoke test', message: 'over HTTP' } },
    };
    const refused = await fetch(`${stack.base}/v1/publish`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-key', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(refused.status).toBe(401);
    const published = await fetch(`${stack.base}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(published.status).toBe(202);
    const { id } = (await published.json()) as { id: string };
    const [fromHttp, fromHttpMeta] = (
      await nextNotification(device, (p) => p.notification.title === 'Hello from the smoke test')
    ).args;
    expect(fromHttp).toEqual(body.payload);
    expect(fromHttpMeta.id).toBe(id);

    device.close();
    expect(await stopAndTime(stack)).toBe(0);
  });

  it('starts its own Redis when REDIS_URL is unset, and stops it on SIGTERM', async () => {
    // spawnApp merges the test's environment (which may carry REDIS_URL); empty means unset.
    const startedAt = Date.now();
    const stack = await startStack({ REDIS_URL: '' });
    report(`ready (own Redis) in ${Date.now() - startedAt} ms`);
    const [, redisUrl] = await stack.app.waitForOutput(
      /^Redis: a (?:private redis-server|Redis container) started for this run, (\S+)$/m,
    );
    const redisPort = Number(new URL(redisUrl!).port);
    expect(await portAnswers(redisPort)).toBe(true);

    expect((await fetch(`${stack.base}/healthz`)).status).toBe(200);
    const device = await connect(stack);
    await nextNotification(device, (p) => /^Demo notification #\d+$/.test(p.notification.title));

    device.close();
    expect(await stopAndTime(stack)).toBe(0);
    // Nothing left behind: the private Redis stopped with the stack.
    await waitFor(async () => !(await portAnswers(redisPort)), {
      timeoutMs: 5_000,
      message: 'the private Redis still answers',
    });
  });
});
