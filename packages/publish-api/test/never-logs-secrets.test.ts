import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  leakedSecrets,
  pinoLines,
  spawnApp,
  startRedisServer,
  uniquePrefix,
  type AppProcess,
  type RedisServerChild,
  randomSecret,
} from '@herald/testing';

describe('publish-api logs', () => {
  const redisPassword = randomSecret('redispw');
  let redis: RedisServerChild;
  let app: AppProcess | undefined;

  beforeAll(async () => {
    redis = await startRedisServer({ args: ['--requirepass', redisPassword] });
  });
  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('at debug level hold neither the API key (right or wrong) nor the Redis password', async () => {
    const apiKey = randomSecret('apikey');
    const wrongKey = randomSecret('wrongkey');
    app = spawnApp('publish-api', {
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: uniquePrefix('secrets'),
      HERALD_API_KEY: apiKey,
      HERALD_LOG_LEVEL: 'debug',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const [, port] = await app.waitForOutput(/"port":(\d+).*"msg":"listening"/);
    const base = `http://127.0.0.1:${port}`;
    const call = (path: string, key: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-api-key': key },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const xp = { amount: 1, source: 'secrets', totalXp: 1 };

    expect(
      (await call('/v1/publish', apiKey, { event: 'xp:gained', to: { user: 'u1' }, payload: xp })).status,
    ).toBe(202);
    expect((await call('/v1/presence/u1', apiKey)).status).toBe(200);
    // Refused with the right key (logged at info with its issues) and with a wrong one.
    expect(
      (await call('/v1/publish', apiKey, { event: 'xp:gained', to: { user: 'u1' }, payload: {} })).status,
    ).toBe(400);
    expect(
      (await call('/v1/publish', wrongKey, { event: 'xp:gained', to: { user: 'u1' }, payload: xp })).status,
    ).toBe(401);
    expect((await call('/v1/presence/u1', wrongKey)).status).toBe(401);

    expect(await app.stop('SIGTERM')).toBe(0);
    const lines = pinoLines(app.output());
    expect(lines.some((l) => l.includes('"level":20') && l.includes('accepted'))).toBe(true);
    expect(lines.some((l) => l.includes('request refused'))).toBe(true);
    expect(leakedSecrets(lines, { apiKey, wrongKey, redisPassword })).toEqual({});
  });
});
