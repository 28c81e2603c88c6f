import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import { createPublisher, type Publisher } from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

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
  let probe: StreamProbe;

  beforeEach(() => {
    prefix = uniquePrefix('dedup');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeStreams(redisUrl, prefix);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  it('resolves to the same id both times, and appends the event once', async () => {
    const target = publisher.toUser(uniqueUser());
    const payload = { achievementId: 'ach-1', title: 'First login' };

    const first = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });
    const second = await target.emit('achievement:unlocked', payload, { eventId: 'evt-dup-1' });

    expect([first, second]).toEqual(['evt-dup-1', 'evt-dup-1']);
    const events = (await probe.events()).map((e) => e.data);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventId: 'evt-dup-1', event: 'achievement:unlocked', payload });
  });

  it('splits a repeated toUsers the same way, part for part, so every slice is deduped by its record', async () => {
    const userIds = Array.from({ length: 1_200 }, (_, i) => `d-${i}`);
    const payload = { notification: { title: 'Maintenance tonight' } };
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });

    // 1,200 users over 16 partitions: 16 slices, each appended (and sequenced) once.
    const parts = (await probe.events()).map(({ data }) => data.part);
    expect(parts.map((p) => p.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // Delete the records of three slices, as if the first publish had stopped after the others:
    // the republish sequences exactly those three again.
    const entries = await probe.entries();
    const missing = entries.slice(0, 3);
    for (const entry of missing) {
      for (const item of entry.events) {
        await probe.redis.del(probe.keys.eventRecord(entry.partition, 'maint-1', item.part.index));
      }
    }
    await publisher.toUsers(userIds).emit('notification:new', payload, { eventId: 'maint-1' });
    const again = (await probe.entries()).filter((entry) => !entries.some((e) => e.id === entry.id));
    expect(again.map((e) => e.partition).sort()).toEqual(missing.map((e) => e.partition).sort());
  });
});
