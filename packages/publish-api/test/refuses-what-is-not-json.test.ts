import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniqueUser } from '@herald/testing';
import { API_KEY, startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

interface ErrorBody {
  error: { code: string; message: string; issues: Array<{ path: string; message: string }> };
}

/**
 * Regression: a text/plain body, or one without a Content-Type, was parsed as JSON, and
 * `1e999999` became null. Now: 415 for anything but application/json, 400 for a number
 * JSON cannot carry; and a right key sent without "Bearer " is told what is missing.
 */
describe('requests that are not what they say', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startHarness(redisUrl);
  });
  afterEach(async () => {
    await h.close();
  });

  const body = () =>
    JSON.stringify({
      event: 'xp:gained',
      to: { user: uniqueUser() },
      payload: { amount: 1, source: 's', totalXp: 1 },
    });

  it('415 unsupported_media_type for text/plain, a form, or no Content-Type; nothing enqueued', async () => {
    const url = `${h.url}/v1/publish`;
    const authorization = `Bearer ${API_KEY}`;
    const answers = [
      await fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'text/plain' },
        body: body(),
      }),
      await fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: body(),
      }),
      // A byte body: fetch sends no Content-Type at all.
      await fetch(url, {
        method: 'POST',
        headers: { authorization },
        body: new TextEncoder().encode(body()),
      }),
      await fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json; charset=latin1' },
        body: body(),
      }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(415);
      const error = ((await res.json()) as ErrorBody).error;
      expect(error.code).toBe('unsupported_media_type');
      expect(error.message).toContain('application/json');
    }
    expect(await h.totalEntries()).toBe(0);
    // application/json with or without charset=utf-8 is taken.
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset="UTF-8"',
    ]) {
      const res = await h.request('/v1/publish', {
        method: 'POST',
        body: body(),
        headers: { 'content-type': type },
      });
      expect(res.status, type).toBe(202);
    }
  });

  it('400 for a number out of range (1e999999), instead of publishing null', async () => {
    // A free-form part of a payload (the leaderboard's entries), where no schema checks the number.
    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: '{"event":"leaderboard:updated","to":{"room":"lobby"},"payload":{"leaderboard":[{"xp":1e999999}]}}',
    });
    expect(res.status).toBe(400);
    const error = ((await res.json()) as ErrorBody).error;
    expect(error.code).toBe('bad_request');
    expect(error.issues.map((i) => i.path)).toEqual(['xp']);
    expect(await h.totalEntries()).toBe(0);
  });

  it('401 telling a right key sent without "Bearer " that the scheme is missing', async () => {
    for (const authorization of [API_KEY, `Token ${API_KEY}`]) {
      const res = await h.request('/v1/publish', {
        method: 'POST',
        body: body(),
        headers: { authorization },
      });
      expect(res.status).toBe(401);
      const { message } = ((await res.json()) as ErrorBody).error;
      expect(message).toContain('Bearer');
      expect(message).not.toContain('wrong');
    }
    const wrong = await h.request('/v1/publish', {
      method: 'POST',
      body: body(),
      headers: { authorization: 'Bearer not-the-key-0123456789' },
    });
    expect(((await wrong.json()) as ErrorBody).error.message).toBe('The API key is wrong');
  });
});
