import { describe, expect, it } from 'vitest';
import { EventEntryData, USERS_PER_SLICE, defaultCatalog, prepareEvent } from '@herald/contracts';
import { createKeys } from '@herald/core';
import { entryEventsJson, packEventEntries, toEventItems } from './event-entries.js';

const notification = { notification: { title: 'Hello' } };
const limits = { maxEvents: 200, maxBytes: 1024 * 1024 };
const keys = createKeys('{entries}', 16);
const onePartition = createKeys('{entries}', 1);

function userEvent(userId: string, eventId?: string) {
  return prepareEvent(defaultCatalog, {
    event: 'notification:new',
    to: { user: userId },
    payload: notification,
    options: eventId ? { eventId } : {},
  });
}

describe('toEventItems', () => {
  it('splits a user target by partition, then into USERS_PER_SLICE slices, numbered as parts', () => {
    const userIds = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const event = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { users: userIds },
      payload: notification,
    });
    const items = toEventItems(event, keys);

    const carried = items.flatMap(({ item }) => (item.target.kind === 'users' ? item.target.userIds : []));
    expect([...carried].sort()).toEqual([...userIds].sort());
    const partitions = items.map((sized) => sized.partition);
    expect(partitions).toEqual([...partitions].sort((a, b) => a - b));
    expect(new Set(partitions).size).toBe(16);
    items.forEach(({ item, users, partition }, index) => {
      expect(item.part).toEqual({ index, count: items.length });
      expect(item.eventId).toBe(event.eventId);
      expect(users).toBeLessThanOrEqual(USERS_PER_SLICE);
      const ids = item.target.kind === 'users' ? item.target.userIds : [];
      for (const id of ids) expect(keys.partitionOf(id)).toBe(partition);
      // Users keep their given order within a partition.
      expect(ids).toEqual(userIds.filter((id) => ids.includes(id)));
    });
    // The same event and target split the same way every time (a republish lines up with its records).
    expect(toEventItems(event, keys).map((s) => s.item)).toEqual(items.map((s) => s.item));
  });

  it('places a room by its name and a broadcast in partition 0, and marks supplied ids', () => {
    const room = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { room: 'lobby-7' },
      payload: notification,
      options: { eventId: 'r-1' },
    });
    const [sized] = toEventItems(room, keys);
    expect(sized?.partition).toBe(keys.partitionOf('lobby-7'));
    expect(sized?.idSupplied).toBe(true);
    const all = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { broadcast: true },
      payload: notification,
    });
    expect(toEventItems(all, keys).map((s) => [s.partition, s.idSupplied])).toEqual([[0, false]]);
  });
});

describe('packEventEntries', () => {
  it('never puts more than USERS_PER_SLICE user ids in one entry: a toUsers of 10,000 in one partition is 20 entries', () => {
    const userIds = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const event = prepareEvent(defaultCatalog, {
      event: 'notification:new',
      to: { users: userIds },
      payload: notification,
    });
    const entries = packEventEntries(toEventItems(event, onePartition), limits);
    expect(entries).toHaveLength(20);
    for (const entry of entries) {
      expect(entry.items).toHaveLength(1);
      const data = { events: JSON.parse(entryEventsJson(entry.items)) as unknown };
      expect(EventEntryData.parse(data).events).toEqual(entry.items.map((s) => s.item));
    }
  });

  it('packs single-user events up to maxEvents per entry, per partition, in order', () => {
    const items = Array.from({ length: 450 }, (_, i) =>
      toEventItems(userEvent(`u${i}`, `e-${i}`), onePartition),
    ).flat();
    const entries = packEventEntries(items, limits);
    expect(entries.map((entry) => entry.items.length)).toEqual([200, 200, 50]);
    expect(entries.flatMap((entry) => entry.items.map((s) => s.item.eventId))).toEqual(
      items.map(({ item }) => item.eventId),
    );
    const spread = packEventEntries(
      Array.from({ length: 450 }, (_, i) => toEventItems(userEvent(`u${i}`), keys)).flat(),
      limits,
    );
    for (const entry of spread) {
      for (const sized of entry.items) expect(sized.partition).toBe(entry.partition);
      // In the batch's order within the partition.
      expect(entry.sources).toEqual([...entry.sources].sort((a, b) => a - b));
    }
    expect(spread.flatMap((e) => e.sources)).toHaveLength(450);
  });

  it('closes an entry before the payload bytes or the user ids of the next item would exceed the bound', () => {
    const items = Array.from({ length: 5 }, (_, i) => toEventItems(userEvent(`u${i}`), onePartition)).flat();
    const bytes = items[0]!.bytes;
    expect(bytes).toBe(JSON.stringify(notification).length);
    expect(
      packEventEntries(items, { maxEvents: 200, maxBytes: bytes * 2 }).map((e) => e.items.length),
    ).toEqual([2, 2, 1]);
    // One item over the bound still goes, alone.
    expect(packEventEntries(items.slice(0, 2), { maxEvents: 200, maxBytes: 1 })).toHaveLength(2);

    const big = prepareEvent(defaultCatalog, {
      event: 'xp:gained',
      to: { users: Array.from({ length: 499 }, (_, i) => `b${i}`) },
      payload: { amount: 1, source: 's', totalXp: 1 },
    });
    const entries = packEventEntries([...toEventItems(big, onePartition), ...items.slice(0, 2)], limits);
    expect(entries.map((entry) => entry.items.length)).toEqual([2, 1]);
  });

  it('writes the events JSON with measured payloads spliced in, reading back as the items', () => {
    const sized = [...toEventItems(userEvent('u1', 'lb-1'), keys), ...toEventItems(userEvent('u2'), keys)];
    expect(sized[0]?.payloadJson).toBeDefined();
    const { payloadJson: _measured, ...unmeasured } = sized[1]!;
    expect(JSON.parse(entryEventsJson([sized[0]!, unmeasured]))).toEqual(sized.map((s) => s.item));
  });
});
