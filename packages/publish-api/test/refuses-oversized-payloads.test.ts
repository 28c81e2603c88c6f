import { afterEach, describe, expect, inject, it } from 'vitest';
import { closeRedis, createKeys, createRedis, readStreamEntries } from '@herald/core';
import { spawnApp, uniquePrefix, uniqueUser, type AppProcess } from '@herald/testing';
import { startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

interface ErrorBody {
  error: { code: string; message: string; issues: Array<{ path: string; message: string }> };
}

/** A publish body whose payload's JSON is exactly `bytes` long. */
const publishBody = (bytes: number, user = uniqueUser()) =>
  JSON.stringify({
    event: 'notification:new',
    to: { user },
    payload: { notification: { message: 'x'.repeat(bytes - 31) } },
  });

describe('payload size limit over HTTP', () => {
  let h: ApiHarness | undefined;
  let app: AppProcess | undefined;
  afterEach(async () => {
    await h?.close();
    await app?.stop('SIGKILL');
    h = undefined;
    app = undefined;
  });

  it('400 invalid_payload naming the size and the 64 KiB default for a payload one byte over; nothing enqueued', async () => {
    h = await startHarness(redisUrl);
    expect((await h.request('/v1/publish', { method: 'POST', body: publishBody(65_536) })).status).toBe(202);

    // The body (under the 1 MiB body limit) is read and parsed; the payload inside is what is too large.
    const res = await h.request('/v1/publish', { method: 'POST', body: publishBody(65_537) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('invalid_payload');
    expect(body.error.message).toContain('is 65537 bytes as JSON; the limit is 65536 bytes');
    expect(body.error.issues).toEqual([
      { path: 'payload', message: 'is 65537 bytes as JSON; the limit is 65536 bytes' },
    ]);
    expect(await h.totalEntries()).toBe(1);
  });

  it('takes the limit from HERALD_MAX_PAYLOAD_BYTES', async () => {
    const apiKey = 'env-api-key-0123456789';
    const prefix = uniquePrefix('size');
    app = spawnApp('publish-api', {
      REDIS_URL: redisUrl,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_API_KEY: apiKey,
      HERALD_MAX_PAYLOAD_BYTES: '2048',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const [, port] = await app.waitForOutput(/"port":(\d+).*"msg":"listening"/);
    const publish = (body: string) =>
      fetch(`http://127.0.0.1:${port}/v1/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body,
      });

    expect((await publish(publishBody(2_048))).status).toBe(202);
    const res = await publish(publishBody(2_049));
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toContain(
      'is 2049 bytes as JSON; the limit is 2048 bytes',
    );

    const redis = createRedis(redisUrl);
    try {
      expect(await readStreamEntries(redis, createKeys(prefix))).toHaveLength(1);
    } finally {
      await closeRedis(redis);
    }
  });
});
