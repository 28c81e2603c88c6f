import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { PresenceRegistry, createKeys } from '@herald/core';
import { startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

/** The grammar as SECURITY.md states it; every refusal's message carries it. */
const RULE = "1-128 printable ASCII characters, no spaces, '{', '}' or '*'";
const payload = { amount: 1, source: 's', totalXp: 1 };

interface ErrorBody {
  error: { code: string; message: string; issues: Array<{ path: string; message: string }> };
}

describe('ids outside the grammar, at the publish API', () => {
  let h: ApiHarness;

  beforeEach(async () => {
    h = await startHarness(redisUrl);
  });

  afterEach(async () => {
    await h.close();
  });

  const publish = (body: unknown) => h.request('/v1/publish', { method: 'POST', body: JSON.stringify(body) });

  it('400 naming the field, the character and the rule for { } * whitespace and non-ASCII in ids; nothing enqueued', async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ to: { user: 'a{b' } }, 'to.user', "'{' (U+007B) at index 1"],
      [{ to: { user: 'a}' } }, 'to.user', "'}' (U+007D) at index 1"],
      [{ to: { users: ['ok', 'all*'] } }, 'to.users[1]', "'*' (U+002A) at index 3"],
      [{ to: { user: 'Zoë' } }, 'to.user', 'U+00EB at index 2'],
      [{ to: { user: 'tab\there' } }, 'to.user', 'U+0009 at index 3'],
      [{ to: { room: 'line\nbreak' } }, 'to.room', 'U+000A at index 4'],
      [{ to: { user: 'u' }, eventId: 'e}1' }, 'eventId', "'}' (U+007D) at index 1"],
    ];
    for (const [extra, field, where] of cases) {
      const res = await publish({ event: 'xp:gained', payload, ...(extra as object) });
      expect(res.status, field).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code, field).toBe('invalid_payload');
      expect(body.error.issues, field).toEqual([
        { path: field, message: `contains ${where}; ids are ${RULE}` },
      ]);
    }
    expect(await h.totalEntries()).toBe(0);
  });

  it('400 naming the accepted shapes for a `to` of any other shape', async () => {
    for (const to of [
      { team: 'x' },
      'user-1',
      [{ user: 'a' }],
      { user: 'a', room: 'b' },
      { broadcast: 'yes' },
    ]) {
      const res = await publish({ event: 'xp:gained', to, payload });
      expect(res.status, JSON.stringify(to)).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.issues).toEqual([
        {
          path: 'to',
          message: 'must be one of { user: id }, { users: [id, …] }, { room: name } or { broadcast: true }',
        },
      ]);
      expect(body.error.message).toContain(
        '{ user: id }, { users: [id, …] }, { room: name } or { broadcast: true }',
      );
    }
    expect(await h.totalEntries()).toBe(0);
  });

  it('accepts event ids full of specials, and answers presence for user ids full of URL separators', async () => {
    const eventId = `ev"<a>(b)[c]\\;,@%/?#!$&'+=^\`|~:.`;
    const res = await publish({ event: 'xp:gained', to: { user: 'colA:b' }, payload, eventId });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ id: eventId });

    const userId = 'u|1/2?3#4%5:6@7';
    const registry = new PresenceRegistry({ redis: h.redis, keys: createKeys(h.prefix), nodeId: 'node-1' });
    await registry.add(userId, 'sock-1');
    try {
      const presence = await h.request(`/v1/presence/${encodeURIComponent(userId)}`);
      expect(presence.status).toBe(200);
      expect(await presence.json()).toEqual({ userId, online: true, devices: 1 });
      const bad = await h.request(`/v1/presence/${encodeURIComponent('a{b}')}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as ErrorBody).error.issues).toEqual([
        { path: 'userId', message: `contains '{' (U+007B) at index 1; ids are ${RULE}` },
      ]);
    } finally {
      await registry.clearLocal();
    }
  });
});
