import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { HeraldError } from '@herald/contracts';
import { uniquePrefix, uniqueUser, refusal } from '@herald/testing';
import { createPublisher, defaultCatalog, defineEvent, extendCatalog, type Publisher } from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

const redisUrl = inject('redisUrl');

describe('invalid events', () => {
  let prefix: string;
  let publisher: Publisher;
  let probe: StreamProbe;

  beforeEach(async () => {
    prefix = uniquePrefix('bad');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeStreams(redisUrl, prefix);
    // One valid event first, so "unchanged" is measured against a queue that exists.
    await publisher.toUser('baseline').emit('xp:gained', { amount: 1, source: 'seed', totalXp: 1 });
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  /** Asserts the refusal changed nothing in Redis: same job counts, same keys. */
  async function expectNothingEnqueued(publish: () => Promise<unknown>): Promise<HeraldError> {
    const countsBefore = await probe.total();
    const keysBefore = await probe.allKeys();
    const error = await refusal(publish);
    expect(await probe.total()).toEqual(countsBefore);
    expect(await probe.allKeys()).toEqual(keysBefore);
    expect(await probe.total()).toBe(1);
    return error;
  }

  it('refuses a payload that fails its schema, naming the event and the field', async () => {
    // The types refuse a numeric title too; the runtime check is for untyped callers.
    const badPayload = { notification: { title: 42, message: 'bad title' } } as unknown as {
      notification: { title: string };
    };
    const error = await expectNothingEnqueued(() =>
      publisher.toUser(uniqueUser()).emit('notification:new', badPayload),
    );
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toContain('notification:new');
    expect(error.message).toContain('payload.notification.title');
    expect(error.issues.map((i) => i.path)).toEqual(['payload.notification.title']);
  });

  it('refuses an unknown event', async () => {
    const error = await expectNothingEnqueued(() =>
      // @ts-expect-error not in the catalog
      publisher.toUser(uniqueUser()).emit('order:shipped', { orderId: 'o-1' }),
    );
    expect(error.code).toBe('unknown_event');
    expect(error.message).toContain('order:shipped');
    expect(error.issues.map((i) => i.path)).toEqual(['event']);
  });

  it('refuses bad targets: an empty user id, an empty users list, a user id with spaces', async () => {
    const payload = { amount: 1, source: 's', totalXp: 1 };
    for (const publish of [
      () => publisher.toUser('').emit('xp:gained', payload),
      () => publisher.toUsers([]).emit('xp:gained', payload),
      () => publisher.toUsers(['ok', 'has space']).emit('xp:gained', payload),
      () => publisher.toRoom('').emit('xp:gained', payload),
    ]) {
      const error = await expectNothingEnqueued(publish);
      expect(error.code).toBe('invalid_payload');
      expect(error.message).toContain('xp:gained');
      expect(error.issues[0]?.path).toMatch(/^to\b/);
    }
  });

  it('refuses bad options: an eventId with spaces, a fallback on a broadcast, a bad fallback address', async () => {
    const lb = { leaderboard: [] };
    const note = { notification: { title: 't' } };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => publisher.toUser('u').emit('notification:new', note, { eventId: 'has space' }), 'eventId'],
      [
        () => publisher.broadcast().emit('leaderboard:updated', lb, { fallback: { email: 'a@b.co' } }),
        'fallback',
      ],
      [
        () => publisher.toUser('u').emit('notification:new', note, { fallback: { email: 'not-an-address' } }),
        'fallback.email',
      ],
    ];
    for (const [publish, field] of cases) {
      const error = await expectNothingEnqueued(publish);
      expect(error.issues.map((i) => i.path)).toContain(field);
    }
  });

  it('refuses malformed untyped requests (the HTTP path) with the field named', async () => {
    const cases: Array<[unknown, string]> = [
      [null, '(root)'],
      [{ to: { user: 'u' }, payload: {} }, 'event'],
      [
        { event: 'xp:gained', to: { user: 'u' }, payload: { amount: 1, source: 's', totalXp: 1 }, extra: 1 },
        'extra',
      ],
      [{ event: 'xp:gained', to: { team: 'x' }, payload: { amount: 1, source: 's', totalXp: 1 } }, 'to'],
      [
        { event: 'xp:gained', to: { user: 'u' }, payload: { amount: 'many', source: 's', totalXp: 1 } },
        'payload.amount',
      ],
    ];
    for (const [request, field] of cases) {
      const error = await expectNothingEnqueued(() => publisher.publish(request as never));
      expect(error.issues.map((i) => i.path)).toContain(field);
    }
  });
});

describe('a catalog extended with an application event', () => {
  it('accepts the custom event with its payload and refuses a wrong one', async () => {
    const prefix = uniquePrefix('custom');
    const catalog = extendCatalog(defaultCatalog, {
      'order:shipped': defineEvent(
        z.object({ orderId: z.string().min(1), carrier: z.enum(['ups', 'dhl']) }),
        {
          fallback: 'email',
        },
      ),
    });
    const publisher = createPublisher({ redisUrl, prefix, catalog });
    const probe = probeStreams(redisUrl, prefix);
    try {
      const id = await publisher.toUser('buyer-1').emit('order:shipped', { orderId: 'o-9', carrier: 'dhl' });
      // Default events stay available next to the custom one.
      await publisher.toUser('buyer-1').emit('xp:gained', { amount: 1, source: 'order', totalXp: 2 });

      const error = await refusal(() =>
        // @ts-expect-error carrier must be 'ups' or 'dhl'
        publisher.toUser('buyer-1').emit('order:shipped', { orderId: 'o-10', carrier: 'pigeon' }),
      );
      expect(error.message).toContain('order:shipped');
      expect(error.issues.map((i) => i.path)).toEqual(['payload.carrier']);

      const jobs = (await probe.events()).map((e) => e.data);
      expect(jobs).toHaveLength(2);
      expect(jobs.find((job) => job.event === 'order:shipped')).toMatchObject({
        eventId: id,
        payload: { orderId: 'o-9', carrier: 'dhl' },
        fallback: { channel: 'email' },
      });
    } finally {
      await publisher.close();
      await probe.close();
    }
  });
});
