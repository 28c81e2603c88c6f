import { afterAll, describe, expect, inject, it } from 'vitest';
import { uniquePrefix, useCleanup, waitFor } from '@herald/testing';
import { createKeys } from '../src/keys.js';
import { closeRedis, createRedis } from '../src/redis.js';
import { createShardedEmitter, namespaceChannel, roomChannel } from '../src/sharded-emitter.js';

interface Seen {
  channel: string;
  /** The event's name and arguments, as the adapter would decode them. */
  data: unknown[];
  rooms: string[];
  except: string[];
}

/** A subscriber on the given sharded channels, recording each message's packet. */
async function listen(channels: string[], defer: (fn: () => unknown) => void): Promise<Seen[]> {
  const sub = createRedis(inject('redisUrl'));
  defer(() => closeRedis(sub));
  const seen: Seen[] = [];
  sub.on('smessage', (channel: string, message: string) => {
    const { data } = JSON.parse(message) as {
      data: { packet: { data: unknown[] }; opts: { rooms: string[]; except: string[] } };
    };
    seen.push({ channel, data: data.packet.data, rooms: data.opts.rooms, except: data.opts.except });
  });
  for (const channel of channels) await sub.ssubscribe(channel);
  return seen;
}

describe('createShardedEmitter', () => {
  const defer = useCleanup();
  const redis = createRedis(inject('redisUrl'));
  afterAll(() => closeRedis(redis));

  for (const batching of ['script', 'commands'] as const) {
    it(`(${batching}) sends nothing before send, then every message in emit order on each room's channel`, async () => {
      const prefix = createKeys(uniquePrefix('emit')).socketIoChannelPrefix;
      const count = 1_201; // more than one script call's worth
      const rooms = ['user:a', 'user:b', 'team'];
      const seen = await listen(
        [...rooms.map((r) => roomChannel(prefix, r)), namespaceChannel(prefix)],
        defer,
      );
      const emitter = createShardedEmitter(redis, { channelPrefix: prefix, batching });
      for (let i = 0; i < count; i++) emitter.to(rooms[i % 3] as string).emit('n', { i }, { id: `e${i}` });
      emitter.emit('all', 1);
      emitter.to(['user:a', 'team', 'user:a']).except('user:b').emit('many', 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toEqual([]);

      await emitter.send();
      await waitFor(() => seen.length === count + 2, { message: 'every message arrived' });
      seen.slice(0, count).forEach((s, i) => {
        const room = rooms[i % 3] as string;
        expect(s).toEqual({
          channel: roomChannel(prefix, room),
          data: ['n', { i }, { id: `e${i}` }],
          rooms: [room],
          except: [],
        });
      });
      expect(seen.slice(count)).toEqual([
        { channel: namespaceChannel(prefix), data: ['all', 1], rooms: [], except: [] },
        {
          channel: namespaceChannel(prefix),
          data: ['many', 2],
          rooms: ['user:a', 'team'],
          except: ['user:b'],
        },
      ]);

      // A lone message, and a send with nothing collected.
      emitter.to('team').emit('one');
      await emitter.send();
      await emitter.send();
      await waitFor(() => seen.length === count + 3, { message: 'the lone message arrived' });
      expect(seen.at(-1)?.data).toEqual(['one']);
    });
  }

  it('rejects send when Redis did not take the messages', async () => {
    const lost = createRedis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Its connection errors are what this test is about; send() reports them.
    lost.on('error', () => undefined);
    defer(() => lost.disconnect());
    const emitter = createShardedEmitter(lost, { channelPrefix: 'x:socket.io' });
    emitter.to('user:a').emit('n', 1);
    emitter.to('user:b').emit('n', 2);
    await expect(emitter.send()).rejects.toThrow();
  });

  it('refuses reserved event names and bad options', () => {
    const emitter = createShardedEmitter(redis, { channelPrefix: 'x:socket.io' });
    expect(() => emitter.to('user:a').emit('disconnect')).toThrow(/reserved/);
    expect(() => createShardedEmitter(redis, { channelPrefix: '' })).toThrow(/channelPrefix/);
  });
});
