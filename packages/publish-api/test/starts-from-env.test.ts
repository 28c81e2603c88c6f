import { afterEach, describe, expect, inject, it } from 'vitest';
import { spawnApp, uniquePrefix, type AppProcess } from '@herald/testing';

const redisUrl = inject('redisUrl');

describe('publish-api main', () => {
  let app: AppProcess | undefined;
  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
  });

  it('starts from env alone, publishes, and exits 0 on SIGTERM', async () => {
    const apiKey = 'env-api-key-0123456789';
    app = spawnApp('publish-api', {
      REDIS_URL: redisUrl,
      HERALD_REDIS_PREFIX: uniquePrefix('main'),
      HERALD_API_KEY: apiKey,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const [, port] = await app.waitForOutput(/"port":(\d+).*"msg":"listening"/);

    const res = await fetch(`http://127.0.0.1:${port}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        event: 'xp:gained',
        to: { user: 'u1' },
        payload: { amount: 1, source: 'main', totalXp: 1 },
      }),
    });
    expect(res.status).toBe(202);
    // The key never reaches the log.
    expect(app.output()).not.toContain(apiKey);

    expect(await app.stop('SIGTERM')).toBe(0);
  });

  it('exits 1 naming HERALD_API_KEY when it is missing or too short', async () => {
    for (const key of [undefined, 'short']) {
      app = spawnApp('publish-api', {
        REDIS_URL: redisUrl,
        PORT: '0',
        ...(key ? { HERALD_API_KEY: key } : {}),
      });
      const code = await new Promise<number | null>((resolve) => app!.child.once('exit', resolve));
      expect(code).toBe(1);
      expect(app.output()).toMatch(/HERALD_API_KEY: .*(required|16 characters)/);
      expect(app.output()).not.toMatch(/at .*\.ts:\d+/); // one line, no stack trace
    }
  });
});
