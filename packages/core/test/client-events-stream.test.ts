import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { ClientEventRecord } from '@herald/contracts';
import { uniquePrefix, waitFor } from '@herald/testing';
import {
  appendClientEvent,
  consumeClientEvents,
  type ClientEventsConsumer,
} from '../src/client-events-stream.js';
import { createKeys } from '../src/keys.js';
import { silentLogger } from '../src/logger.js';
import { createRedis } from '../src/redis.js';

const redis = createRedis(inject('redisUrl'));
const consumers: ClientEventsConsumer[] = [];
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await redis.quit();
});

const base = { type: 'notification:mark_read' as const, socketId: 's', nodeId: 'n' };

describe('client events stream', () => {
  it('delivers each event once per group and retries a failing handler', async () => {
    const keys = createKeys(uniquePrefix());
    await appendClientEvent(redis, keys, { ...base, userId: 'u1', payload: { notificationId: 'n1' } });
    const seen: ClientEventRecord[] = [];
    let failures = 0;
    consumers.push(
      consumeClientEvents(
        (event) => {
          if (
            event.payload &&
            (event.payload as { notificationId: string }).notificationId === 'n2' &&
            failures === 0
          ) {
            failures += 1;
            throw new Error('transient');
          }
          seen.push(event);
        },
        { redis, keys, logger: silentLogger(), blockMs: 100, claimIdleMs: 200 },
      ),
    );
    await appendClientEvent(redis, keys, { ...base, userId: 'u2', payload: { notificationId: 'n2' } });
    await waitFor(() => seen.length === 2, { message: 'both events handled' });
    expect(seen.map((e) => [e.userId, e.payload])).toEqual([
      ['u1', { notificationId: 'n1' }],
      ['u2', { notificationId: 'n2' }],
    ]);
    expect(failures).toBe(1);
    const pending = (await redis.xpending(keys.clientEvents, 'domain')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('moves entries that fail their schema to the dead stream', async () => {
    const keys = createKeys(uniquePrefix());
    await redis.xadd(
      keys.clientEvents,
      '*',
      'type',
      'notification:mark_read',
      'userId',
      'u',
      'payload',
      '{"bad":1}',
      'socketId',
      's',
      'nodeId',
      'n',
      'ts',
      '1',
    );
    const seen: ClientEventRecord[] = [];
    consumers.push(
      consumeClientEvents((e) => void seen.push(e), { redis, keys, logger: silentLogger(), blockMs: 100 }),
    );
    await waitFor(async () => (await redis.xlen(keys.clientEventsDead)) === 1, { message: 'dead-lettered' });
    expect(seen).toHaveLength(0);
  });
});
