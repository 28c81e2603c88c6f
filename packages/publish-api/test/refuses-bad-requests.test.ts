import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniqueUser } from '@herald/testing';
import { startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

interface ErrorBody {
  error: { code: string; message: string; issues: Array<{ path: string; message: string }> };
}

describe('bad requests to the publish API', () => {
  let h: ApiHarness;
  let keysBefore: number;

  beforeEach(async () => {
    h = await startHarness(redisUrl, { bodyLimitBytes: 4_096 });
    // One accepted event, so "unchanged" is measured against a queue that exists.
    const seed = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify({
        event: 'xp:gained',
        to: { user: 'seed' },
        payload: { amount: 1, source: 's', totalXp: 1 },
      }),
    });
    expect(seed.status).toBe(202);
    keysBefore = (await h.redis.keys(`${h.prefix}*`)).length;
  });

  afterEach(async () => {
    await h.close();
  });

  async function expectQueueUnchanged() {
    expect(await h.totalEntries()).toBe(1);
    expect((await h.redis.keys(`${h.prefix}*`)).length).toBe(keysBefore);
  }

  it('400 naming payload.notification.title for a payload that fails its schema; nothing enqueued', async () => {
    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify({
        event: 'notification:new',
        to: { user: uniqueUser() },
        payload: { notification: { title: 42, message: 'x' } },
      }),
    });

    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('invalid_payload');
    expect(body.error.message).toContain('notification:new');
    expect(body.error.issues.map((i) => i.path)).toEqual(['payload.notification.title']);
    await expectQueueUnchanged();
  });

  it('400 for an unknown event, a bad target, unknown fields and a bad eventId, each naming its field', async () => {
    const payload = { amount: 1, source: 's', totalXp: 1 };
    const cases: Array<[unknown, string, string]> = [
      [{ event: 'order:shipped', to: { user: 'u' }, payload: {} }, 'unknown_event', 'event'],
      [{ event: 'xp:gained', to: { users: [] }, payload }, 'invalid_payload', 'to.users'],
      [{ event: 'xp:gained', to: { user: 'u' }, payload, priority: 'high' }, 'bad_request', 'priority'],
      [{ event: 'xp:gained', to: { user: 'u' }, payload, eventId: 'a b' }, 'invalid_payload', 'eventId'],
      [[1, 2], 'bad_request', '(root)'],
    ];
    for (const [request, code, field] of cases) {
      const res = await h.request('/v1/publish', { method: 'POST', body: JSON.stringify(request) });
      expect(res.status, JSON.stringify(request)).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe(code);
      expect(body.error.issues.map((i) => i.path)).toContain(field);
    }
    await expectQueueUnchanged();
  });

  it('401 without a key, with a wrong key, or with a non-bearer scheme; nothing enqueued', async () => {
    const body = JSON.stringify({
      event: 'xp:gained',
      to: { user: 'u' },
      payload: { amount: 1, source: 's', totalXp: 1 },
    });
    for (const authorization of ['', 'Bearer wrong-key-0123456789ab', 'Basic dGVzdA==']) {
      const res = await h.request('/v1/publish', { method: 'POST', body, headers: { authorization } });
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as ErrorBody).error.code).toBe('unauthorized');
    }
    const presence = await h.request('/v1/presence/u', { headers: { authorization: 'Bearer nope' } });
    expect(presence.status).toBe(401);
    await expectQueueUnchanged();
  });

  it('413 for a body over the limit, before parsing it', async () => {
    const notification = { title: 'big', message: 'x'.repeat(5_000) };
    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify({ event: 'notification:new', to: { user: 'u' }, payload: { notification } }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.message).toContain('4096');
    await expectQueueUnchanged();
  });

  it('413 for a chunked body (no Content-Length) that grows past the limit while streaming', async () => {
    const kib = new TextEncoder().encode('x'.repeat(1_024));
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunks++ < 64) controller.enqueue(kib);
        else controller.close();
      },
    });
    const res = await h.request('/v1/publish', { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-length')).not.toBeNull();
    await res.body?.cancel();
    await expectQueueUnchanged();
  });

  it('400 for a body that is not JSON, or empty', async () => {
    for (const body of ['{"event": "xp:gained",', 'not json at all', '']) {
      const res = await h.request('/v1/publish', { method: 'POST', body });
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('bad_request');
    }
    await expectQueueUnchanged();
  });

  it('400 for an invalid user id in the presence path', async () => {
    for (const path of [
      '/v1/presence/has%20space',
      '/v1/presence/%E0%A4%A',
      `/v1/presence/${'x'.repeat(200)}`,
    ]) {
      const res = await h.request(path);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as ErrorBody).error.issues[0]?.path).toBe('userId');
    }
  });

  it('500 when publishing fails unexpectedly, and keeps serving', async () => {
    await h.publisher.close();
    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify({
        event: 'xp:gained',
        to: { user: 'u' },
        payload: { amount: 1, source: 's', totalXp: 1 },
      }),
    });
    expect(res.status).toBe(500);
    expect(((await res.json()) as ErrorBody).error.code).toBe('internal');
    // The server still answers.
    expect((await h.request('/v1/publish', { method: 'POST', body: 'nope' })).status).toBe(400);
  });
});
