import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { PresenceRegistry, createKeys, silentLogger } from '@herald/core';
import { uniqueUser } from '@herald/testing';
import { createPublishApiHandler } from '../src/index.js';
import { API_KEY, startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

describe('the publish API', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startHarness(redisUrl);
  });
  afterEach(async () => {
    await h.close();
  });

  it('answers 202 { id } for a valid publish and puts the event in its stream as published', async () => {
    const userId = uniqueUser();
    const payload = {
      notification: { title: 'From curl', message: 'hi' },
      timestamp: '2024-01-01T00:00:00.000Z',
    };

    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify({ event: 'notification:new', to: { user: userId }, payload }),
    });

    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const events = await h.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: 'notification:new',
      eventId: id,
      payload,
      target: { kind: 'users', userIds: [userId] },
      fallback: { channel: 'email' },
    });
  });

  it('takes every target form, a caller eventId (the same id both times), and a fallback address', async () => {
    const publish = (body: unknown) =>
      h.request('/v1/publish', { method: 'POST', body: JSON.stringify(body) });
    const lb = { leaderboard: [{ userId: 'a', xp: 3 }] };
    const xp = { amount: 1, source: 'api', totalXp: 9 };

    const responses = [
      await publish({ event: 'xp:gained', to: { users: ['a', 'b'] }, payload: xp }),
      await publish({ event: 'leaderboard:updated', to: { room: 'lobby' }, payload: lb }),
      await publish({ event: 'leaderboard:updated', to: { broadcast: true }, payload: lb }),
      await publish({
        event: 'notification:new',
        to: { user: 'c' },
        payload: { notification: { title: 't' } },
        eventId: 'order-7',
        fallback: { email: 'c@example.com' },
      }),
      // The same publish again (a retry): the same event, target, payload and fallback.
      await publish({
        event: 'notification:new',
        to: { user: 'c' },
        payload: { notification: { title: 't' } },
        eventId: 'order-7',
        fallback: { email: 'c@example.com' },
      }),
    ];

    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    const ids = await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(ids.slice(3)).toEqual(['order-7', 'order-7']);
    // Sequential requests, one entry per partition each; the repeated order-7 is appended once.
    const keys = createKeys(h.prefix);
    const events = await h.events();
    expect(events.map((e) => e.event).sort()).toEqual([
      'leaderboard:updated',
      'leaderboard:updated',
      'notification:new',
      // Users a and b: one slice, or one per partition when they fall in two.
      ...(keys.partitionOf('a') === keys.partitionOf('b') ? ['xp:gained'] : ['xp:gained', 'xp:gained']),
    ]);
    const orders = events.filter((d) => d.eventId === 'order-7');
    expect(orders.map((o) => o.part)).toEqual([{ index: 0, count: 1 }]);
    expect(orders[0]?.fallback).toEqual({ channel: 'email', email: 'c@example.com' });
  });

  it('GET /v1/presence/:userId answers { userId, online, devices } from the presence entries', async () => {
    // URL separators in the id: the path carries it percent-encoded.
    const userId = uniqueUser('pres/en?ce#%');
    const registry = new PresenceRegistry({ redis: h.redis, keys: createKeys(h.prefix), nodeId: 'node-1' });

    const offline = await h.request(`/v1/presence/${encodeURIComponent(userId)}`);
    expect(offline.status).toBe(200);
    expect(await offline.json()).toEqual({ userId, online: false, devices: 0 });

    await registry.add(userId, 'sock-1');
    await registry.add(userId, 'sock-2');
    const online = await h.request(`/v1/presence/${encodeURIComponent(userId)}`);
    expect(await online.json()).toEqual({ userId, online: true, devices: 2 });
    await registry.clearLocal();
  });

  it('answers 404 for unknown /v1 paths, 405 for a wrong method, and a JSON 404 outside /v1', async () => {
    const unknown = await h.request('/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');

    const wrongMethod = await h.request('/v1/publish', { method: 'GET' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect((await h.request('/v1/presence/u1', { method: 'DELETE' })).status).toBe(405);

    const outside = await h.request('/nothing-here');
    expect(outside.status).toBe(404);
    expect(outside.headers.get('content-type')).toContain('application/json');
  });
});

describe('createPublishApiHandler on a shared server', () => {
  it('handles /v1/* and resolves false for other paths, leaving them to the host server', async () => {
    const h = await startHarness(redisUrl);
    const handler = createPublishApiHandler({
      publisher: h.publisher,
      apiKey: API_KEY,
      logger: silentLogger(),
    });
    const server = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) res.end('host server');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await (await fetch(`${base}/demo`)).text()).toBe('host server');
      expect(await (await fetch(`${base}/v1x`)).text()).toBe('host server');
      const res = await fetch(`${base}/v1/presence/u1`, { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(await res.json()).toEqual({ userId: 'u1', online: false, devices: 0 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    }
  });

  it('refuses a short API key at construction', async () => {
    const h = await startHarness(redisUrl);
    try {
      expect(() =>
        createPublishApiHandler({ publisher: h.publisher, apiKey: 'short', logger: silentLogger() }),
      ).toThrowError(/at least 16/);
    } finally {
      await h.close();
    }
  });
});
