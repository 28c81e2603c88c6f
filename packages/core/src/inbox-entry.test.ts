import { describe, expect, it } from 'vitest';
import { InboxEntry } from '@herald/contracts';
import { entryTail, type SequenceItem } from './inbox.js';

const base = {
  eventId: 'e-1',
  part: 0,
  idSupplied: true,
  userIds: ['u1'],
  event: 'notification:new',
  publishedAt: 1_764_000_000_123,
};

describe('entryTail', () => {
  const payloads: unknown[] = [
    { notification: { title: 'Hi', body: 'x'.repeat(100) } },
    { text: 'héllo ✓ 😀 "quoted" \\ back\nslash', nested: [1, 2.5, -3e-7, { a: null, b: true }] },
    null,
    [],
    'a string payload',
  ];

  it('splices the payload JSON the publisher measured into the same entry text JSON.stringify makes', () => {
    for (const payload of payloads) {
      const item: SequenceItem = { ...base, payload };
      const spliced = entryTail({ ...item, payloadJson: JSON.stringify(payload) });
      expect(spliced).toBe(entryTail(item));
      const entry = InboxEntry.parse(JSON.parse(`{"seq":7,${spliced}`));
      expect(entry).toMatchObject({ seq: 7, id: 'e-1', event: 'notification:new', ts: base.publishedAt });
      expect(JSON.parse(`{"seq":7,${spliced}`).payload).toEqual(payload);
    }
  });

  it('leaves out a payload that JSON has no text for, as JSON.stringify does', () => {
    expect(entryTail({ ...base, payload: undefined })).toBe(
      '"id":"e-1","event":"notification:new","ts":1764000000123}',
    );
  });
});
