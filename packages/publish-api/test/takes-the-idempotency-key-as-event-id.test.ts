import { createKeys } from '@herald/core';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniqueUser } from '@herald/testing';
import { startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');

interface Answer {
  id?: string;
  error?: { code: string; issues: Array<{ path: string }> };
}

/**
 * The `Idempotency-Key` header is the event's `eventId` when the body has none, so a
 * producer's HTTP client can make retries safe without touching the body.
 */
describe('the Idempotency-Key header', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startHarness(redisUrl);
  });
  afterEach(async () => {
    await h.close();
  });

  const publish = async (body: Record<string, unknown>, key?: string) => {
    const res = await h.request('/v1/publish', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });
    return { status: res.status, body: (await res.json()) as Answer };
  };
  const event = () => ({
    event: 'xp:gained',
    to: { user: uniqueUser() },
    payload: { amount: 1, source: 's', totalXp: 1 },
  });

  it('is the eventId when the body has none: a retry with the same key is deduped', async () => {
    const body = event();
    const key = `idem-${uniqueUser()}`;
    expect(await publish(body, key)).toEqual({ status: 202, body: { id: key } });
    expect(await publish(body, key)).toEqual({ status: 202, body: { id: key } });
    expect(await publish({ ...body, eventId: key }, key)).toEqual({ status: 202, body: { id: key } });
    expect((await h.events()).map((e) => e.eventId)).toEqual([key]);
    expect(await h.redis.llen(createKeys(h.prefix).inbox(body.to.user))).toBe(1);
  });

  it('400 naming both when it differs from the body eventId, and 400 when it is not a valid eventId', async () => {
    const differ = await publish({ ...event(), eventId: 'in-body' }, 'in-header');
    expect(differ.status).toBe(400);
    expect(differ.body.error?.issues.map((i) => i.path)).toEqual(['Idempotency-Key', 'eventId']);
    const invalid = await publish(event(), 'has space');
    expect(invalid.status).toBe(400);
    expect(invalid.body.error?.issues.map((i) => i.path)).toEqual(['Idempotency-Key']);
    expect(await h.totalEntries()).toBe(0);
  });
});
