import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultCatalog, defineEvent, extendCatalog } from './catalog.js';
import { HeraldError } from './errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, prepareEvent } from './envelope.js';

const notification = { notification: { id: 'n1', title: 'Hello', message: 'World' }, timestamp: 't' };

function thrown(fn: () => unknown): HeraldError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HeraldError) return error;
    throw error;
  }
  throw new Error('expected a HeraldError');
}

describe('prepareEvent', () => {
  it('keeps the payload as published, extra keys included', () => {
    const payload = { ...notification, notification: { ...notification.notification, extra: 1 } };
    const prepared = prepareEvent(defaultCatalog, { event: 'notification:new', to: { user: 'u1' }, payload });
    expect(prepared.payload).toEqual(payload);
    expect(prepared.target).toEqual({ kind: 'users', userIds: ['u1'] });
    // What was measured is what inbox entries get: the JSON of the parsed payload.
    expect(prepared.payloadJson).toBe(JSON.stringify(prepared.payload));
  });

  it('defaults notification:new to email fallback and other events to none', () => {
    expect(
      prepareEvent(defaultCatalog, { event: 'notification:new', to: { user: 'u' }, payload: notification })
        .fallback,
    ).toEqual({ channel: 'email' });
    const xp = { amount: 1, source: 's', totalXp: 2 };
    expect(
      prepareEvent(defaultCatalog, { event: 'xp:gained', to: { user: 'u' }, payload: xp }).fallback,
    ).toBeNull();
    expect(
      prepareEvent(defaultCatalog, {
        event: 'xp:gained',
        to: { user: 'u' },
        payload: xp,
        options: { fallback: { email: 'a@b.co' } },
      }).fallback,
    ).toEqual({ channel: 'email', email: 'a@b.co' });
    expect(
      prepareEvent(defaultCatalog, {
        event: 'notification:new',
        to: { user: 'u' },
        payload: notification,
        options: { fallback: false },
      }).fallback,
    ).toBeNull();
  });

  it('names the event and the failing field', () => {
    const error = thrown(() =>
      prepareEvent(defaultCatalog, {
        event: 'notification:new',
        to: { user: 'u1' },
        payload: { notification: { title: 42, message: 'x' } },
      }),
    );
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('notification:new');
    expect(error.issues.map((i) => i.path)).toContain('payload.notification.title');
  });

  it('refuses unknown events, bad targets, bad event ids and fallback on rooms', () => {
    expect(
      thrown(() => prepareEvent(defaultCatalog, { event: 'nope', to: { user: 'u' }, payload: {} })).code,
    ).toBe('unknown_event');
    expect(
      thrown(() => prepareEvent(defaultCatalog, { event: '__proto__', to: { user: 'u' }, payload: {} })).code,
    ).toBe('unknown_event');
    const bad = thrown(() =>
      prepareEvent(defaultCatalog, { event: 'notification:new', to: { user: '' }, payload: notification }),
    );
    expect(bad.issues[0]?.path).toBe('to.user');
    const badId = thrown(() =>
      prepareEvent(defaultCatalog, {
        event: 'notification:new',
        to: { user: 'u' },
        payload: notification,
        options: { eventId: 'a b' },
      }),
    );
    expect(badId.issues[0]?.path).toBe('eventId');
    const room = thrown(() =>
      prepareEvent(defaultCatalog, {
        event: 'notification:new',
        to: { room: 'r' },
        payload: notification,
        options: { fallback: {} },
      }),
    );
    expect(room.issues[0]?.path).toBe('fallback');
  });

  it('validates events an application adds to the catalog', () => {
    const catalog = extendCatalog(defaultCatalog, {
      'order:shipped': defineEvent(z.object({ orderId: z.string() }), { fallback: 'email' }),
    });
    const ok = prepareEvent(catalog, {
      event: 'order:shipped',
      to: { users: ['a', 'b', 'a'] },
      payload: { orderId: 'o1' },
    });
    expect(ok.target).toEqual({ kind: 'users', userIds: ['a', 'b'] });
    expect(ok.fallback).toEqual({ channel: 'email' });
    expect(
      thrown(() =>
        prepareEvent(catalog, { event: 'order:shipped', to: { user: 'a' }, payload: { orderId: 3 } }),
      ).issues[0]?.path,
    ).toBe('payload.orderId');
  });

  it('refuses a payload over 64 KB of JSON by default, naming its size and the limit', () => {
    const sized = (bytes: number) => {
      // {"notification":{"message":"…"}} is 31 bytes around the message.
      return { notification: { message: 'x'.repeat(bytes - 31) } };
    };
    expect(JSON.stringify(sized(DEFAULT_MAX_PAYLOAD_BYTES))).toHaveLength(DEFAULT_MAX_PAYLOAD_BYTES);
    const input = (payload: unknown) => ({ event: 'notification:new', to: { user: 'u' }, payload });
    expect(prepareEvent(defaultCatalog, input(sized(DEFAULT_MAX_PAYLOAD_BYTES))).event).toBe(
      'notification:new',
    );
    const error = thrown(() => prepareEvent(defaultCatalog, input(sized(DEFAULT_MAX_PAYLOAD_BYTES + 1))));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('notification:new');
    expect(error.message).toContain(`${DEFAULT_MAX_PAYLOAD_BYTES + 1} bytes`);
    expect(error.message).toContain(`limit is ${DEFAULT_MAX_PAYLOAD_BYTES} bytes`);
    expect(error.issues.map((i) => i.path)).toEqual(['payload']);
  });

  it('counts UTF-8 bytes, not characters, and takes the limit from maxPayloadBytes', () => {
    // 100 × "é" (2 bytes) + 100 × "😀" (4 bytes) = 600 bytes in 300 UTF-16 units.
    const payload = { notification: { message: 'é'.repeat(100) + '😀'.repeat(100) } };
    const bytes = new TextEncoder().encode(JSON.stringify(payload)).byteLength;
    const input = { event: 'notification:new', to: { user: 'u' }, payload };
    const prepared = prepareEvent(defaultCatalog, input, { maxPayloadBytes: bytes });
    expect(prepared.payload).toEqual(payload);
    expect(prepared.payloadBytes).toBe(bytes);
    const error = thrown(() => prepareEvent(defaultCatalog, input, { maxPayloadBytes: bytes - 1 }));
    expect(error.message).toContain(`is ${bytes} bytes as JSON; the limit is ${bytes - 1} bytes`);
  });

  it('refuses a payload JSON cannot carry (extra keys of loose objects are not checked by the schema)', () => {
    const cyclic: Record<string, unknown> = { notification: { title: 't' } };
    cyclic.self = cyclic;
    for (const payload of [cyclic, { notification: { title: 't' }, big: 10n }]) {
      const error = thrown(() =>
        prepareEvent(defaultCatalog, { event: 'notification:new', to: { user: 'u' }, payload }),
      );
      expect(error.code).toBe('invalid_payload');
      expect(error.issues).toEqual([{ path: 'payload', message: 'not serializable as JSON' }]);
    }
  });

  it('uses newId for events published without an id', () => {
    const xp = { amount: 1, source: 's', totalXp: 2 };
    const input = { event: 'xp:gained', to: { user: 'u' }, payload: xp };
    expect(prepareEvent(defaultCatalog, input, { newId: () => 'fixed-id' }).eventId).toBe('fixed-id');
  });
});
