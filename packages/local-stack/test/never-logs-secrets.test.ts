import { describe, expect, it } from 'vitest';
import {
  connectDevice,
  freePort,
  leakedSecrets,
  pinoLines,
  spawnApp,
  startRedisServer,
  startSmtpSink,
  uniquePrefix,
  useCleanup,
  waitFor,
  randomSecret,
} from '@herald/testing';

describe('local stack logs', () => {
  const defer = useCleanup();

  it('at debug level hold no secret; only the banner shows the dev token and key, by design', async () => {
    const secrets = {
      jwtSecret: randomSecret('jwtsecret'),
      apiKey: randomSecret('apikey'),
      wrongKey: randomSecret('wrongkey'),
      smtpPassword: randomSecret('smtppw'),
      redisPassword: randomSecret('redispw'),
    };
    const redis = await startRedisServer({ args: ['--requirepass', secrets.redisPassword] });
    defer(() => redis.stop());
    const sink = await startSmtpSink({ auth: { user: 'mailer', pass: secrets.smtpPassword } });
    defer(() => sink.close());
    const port = await freePort();
    const app = spawnApp('local-stack', {
      PORT: String(port),
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: uniquePrefix('stack'),
      JWT_SECRET: secrets.jwtSecret,
      HERALD_API_KEY: secrets.apiKey,
      SMTP_URL: `smtp://mailer:${secrets.smtpPassword}@127.0.0.1:${sink.port}`,
      HERALD_LOG_LEVEL: 'debug',
      HERALD_DEMO_INTERVAL_MS: '200',
    });
    defer(() => app.stop('SIGKILL'));
    const [, token] = await app.waitForOutput(/^Dev token \(user [^)]+\): (\S+)$/m, 60_000);
    const base = `http://127.0.0.1:${port}`;

    const device = await connectDevice(base, { token: token! });
    defer(() => device.close());
    await waitFor(() => device.payloads('notification:new').length > 0, {
      timeoutMs: 15_000,
      message: 'a demo notification arrived',
    });
    for (const key of [secrets.apiKey, secrets.wrongKey]) {
      await fetch(`${base}/v1/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'xp:gained', to: { user: 'u' }, payload: { amount: 1 } }),
      });
    }
    device.close();
    expect(await app.stop('SIGTERM')).toBe(0);

    const output = app.output();
    // The banner is for the person at the terminal; it is not a log line.
    expect(output).toContain(`Dev API key: ${secrets.apiKey}`);
    const lines = pinoLines(output);
    expect(lines.some((l) => l.includes('"level":20'))).toBe(true);
    expect(leakedSecrets(lines, { ...secrets, token: token!.split('.')[2] as string })).toEqual({});
  });
});
