import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeQueue, type QueueProbe } from './queue-probe.js';

const redisUrl = inject('redisUrl');

/**
 * "Publishing the same eventId twice within 24 h delivers once" is kept by the
 * dispatcher, which claims each (eventId, part) once (apps/dispatcher test
 * delivers-a-republished-event-once). What the publisher owes it: the same id,
 * and the same split, so the parts of both publishes line up one for one.
 */
describe('publishing the same eventId twice', () => {
  let prefix: string;
  let publisher: Publisher;
  let probe: QueueProbe;

  beforeEach(() => {
    prefix = uniquePrefix('dedup');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeQueue(redisUrl, prefix);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it('resolves to the same id both times, with the same event in both jobs', async () => {
    const target = publisher.toUser(uniqueUser());
    const payload = { achievementId: 'ach-1', title: 'First login' };

    const first = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });
    const second = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });

    expect([first, second]).toEqual(['evt-dup-1', 'evt-dup-1']);
    const events = (await probe.events()).map((e) => e.data);
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({ ...events[0], publishedAt: events[1]!.publishedAt });
  });

  it('splits a repeated toUsers the same way, part for part', async () => {
    const userIds = Array.from({ length: 1_200 }, (_, i) => `d-${i}`);
    const payload = { notification: { title: 'Maintenance tonight' } };
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });

    const parts = (await probe.events()).map(({ data }) => ({
      part: data.part,
      users: data.target.kind === 'users' ? data.target.userIds : [],
    }));
    expect(parts).toHaveLength(6);
    for (const index of [0, 1, 2]) {
      const same = parts.filter((p) => p.part.index === index);
      expect(same).toHaveLength(2);
      expect(same[0]).toEqual(same[1]);
    }
  });
});
