import { describe, expect, inject, it } from 'vitest';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '@herald/contracts';
import { uniquePrefix, uniqueUser, useCleanup, refusal } from '@herald/testing';
import { createPublisher } from '../src/index.js';
import { probeStreams } from './stream-probe.js';

const redisUrl = inject('redisUrl');

/** A notification:new payload whose JSON is exactly `bytes` long (31 bytes of it are the wrapping). */
const payloadOf = (bytes: number) => ({ notification: { message: 'x'.repeat(bytes - 31) } });

describe('payload size limit', () => {
  const defer = useCleanup();

  function open(maxPayloadBytes?: number) {
    const prefix = uniquePrefix('size');
    const publisher = createPublisher({
      redisUrl,
      prefix,
      ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }),
    });
    defer(() => publisher.close());
    const probe = probeStreams(redisUrl, prefix);
    defer(() => probe.close());
    return { publisher, probe };
  }

  it('takes 64 KiB of JSON by default and refuses one byte more, naming the size and the limit; nothing enqueued', async () => {
    const { publisher, probe } = open();
    const user = uniqueUser();
    expect(JSON.stringify(payloadOf(DEFAULT_MAX_PAYLOAD_BYTES))).toHaveLength(65_536);
    const id = await publisher.toUser(user).emit('notification:new', payloadOf(DEFAULT_MAX_PAYLOAD_BYTES));
    const keysBefore = await probe.allKeys();

    const error = await refusal(() =>
      publisher.toUser(user).emit('notification:new', payloadOf(DEFAULT_MAX_PAYLOAD_BYTES + 1)),
    );
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toBe(
      'Payload of "notification:new" is too large: it is 65537 bytes as JSON; the limit is 65536 bytes ' +
        '(maxPayloadBytes). Send an id and let the client fetch the rest.',
    );
    expect(error.issues).toEqual([
      { path: 'payload', message: 'is 65537 bytes as JSON; the limit is 65536 bytes' },
    ]);
    // The untyped path (what the HTTP API calls) and every target kind refuse it the same way.
    const big = payloadOf(100_000);
    for (const publish of [
      () => publisher.publish({ event: 'notification:new', to: { user }, payload: big }),
      () => publisher.toUsers([user, uniqueUser()]).emit('notification:new', big),
      () => publisher.toRoom('room-1').emit('notification:new', big),
      () => publisher.broadcast().emit('notification:new', big),
    ]) {
      expect((await refusal(publish)).message).toContain('is 100000 bytes as JSON');
    }

    expect((await probe.events()).map((e) => e.data.eventId)).toEqual([id]);
    expect(await probe.allKeys()).toEqual(keysBefore);
  });

  it('takes its limit from maxPayloadBytes', async () => {
    const { publisher, probe } = open(1_024);
    await publisher.toUser('u').emit('notification:new', payloadOf(1_024));
    const error = await refusal(() => publisher.toUser('u').emit('notification:new', payloadOf(1_025)));
    expect(error.message).toContain('is 1025 bytes as JSON; the limit is 1024 bytes');
    expect(await probe.total()).toBe(1);
  });
});
