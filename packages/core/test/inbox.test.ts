import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { InboxEntry } from '@herald/contracts';
import { uniquePrefix, uniqueUser, uniqueUsersOfOnePartition } from '@herald/testing';
import {
  appendEntry,
  claimEventId,
  parseEntrySeqs,
  readAckedSeqs,
  readLatestSeq,
  readLivePresence,
  readReplay,
  recordAck,
  recordAcks,
  type SequenceItem,
} from '../src/inbox.js';
import { createKeys, type RedisKeys } from '../src/keys.js';
import { PresenceReader, PresenceRegistry } from '../src/presence.js';
import { createRedis } from '../src/redis.js';
import type { RedisClient } from '../src/redis-client.js';

let redis: RedisClient;
beforeAll(() => {
  redis = createRedis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

const item = (eventId: string, userIds: string[], idSupplied = true): SequenceItem => ({
  eventId,
  part: 0,
  userIds,
  event: 'xp:gained',
  payload: { amount: 1, source: eventId, totalXp: 1 },
  publishedAt: 1_000,
  idSupplied,
});

/** Appends one entry of `items` (whose users all share `partition`), as the publisher does per batch and partition. */
async function sequence(keys: RedisKeys, partition: number, items: SequenceItem[], inboxMax = 500) {
  return appendEntry(redis, keys, partition, items, JSON.stringify(items.map((i) => i.eventId)), {
    inboxMax,
    inboxTtlS: 60,
  });
}

/** `count` distinct users that share one partition, and that partition. */
function usersOfOnePartition(
  keys: RedisKeys,
  count: number,
  label = 'user',
): { partition: number; users: string[] } {
  const users = uniqueUsersOfOnePartition(count, keys.partitionOf, label);
  return { partition: keys.partitionOf(users[0] as string), users };
}

/** The fields of each entry of a partition's stream. */
async function entriesOf(keys: RedisKeys, partition: number): Promise<Array<Record<string, string>>> {
  const entries = (await redis.xrange(keys.stream(partition), '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
    return out;
  });
}

describe('the inbox', () => {
  it('gives each user contiguous seqs, appends them with the entry, and sequences a slice of a supplied id once', async () => {
    const keys = createKeys(uniquePrefix());
    const {
      partition,
      users: [ana, ben],
    } = usersOfOnePartition(keys, 2);
    const first = await sequence(keys, partition, [item('e1', [ana!]), item('e2', [ana!, ben!])]);
    expect(first.sequenced).toEqual([true, true]);
    // e1 again (a republish) and a generated id: only the new one is sequenced.
    const second = await sequence(keys, partition, [item('e1', [ana!]), item('g1', [ana!], false)]);
    expect(second.sequenced).toEqual([false, true]);
    // Only republishes: nothing is appended.
    expect(await sequence(keys, partition, [item('e2', [ana!, ben!])])).toEqual({
      streamId: null,
      sequenced: [false],
    });
    expect(await readLatestSeq(redis, keys, ana!)).toBe(3);
    expect(await readLatestSeq(redis, keys, ben!)).toBe(1);
    const entries = await entriesOf(keys, partition);
    expect(entries.map((e) => parseEntrySeqs(e.seqs as string))).toEqual([
      [[1], [2, 1]],
      [null, [3]],
    ]);
    expect(entries.map((e) => JSON.parse(e.events as string) as unknown)).toEqual([
      ['e1', 'e2'],
      ['e1', 'g1'],
    ]);
    // Records only for supplied ids, in the slice's partition, for 24 h.
    expect(await redis.ttl(keys.eventRecord(partition, 'e1', 0))).toBeGreaterThan(23 * 3_600);
    expect(await redis.exists(keys.eventRecord(partition, 'g1', 0))).toBe(0);
    const inbox = (await redis.lrange(keys.inbox(ana!), 0, -1)).map((raw) =>
      InboxEntry.parse(JSON.parse(raw)),
    );
    expect(inbox.map((e) => [e.seq, e.id])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
      [3, 'g1'],
    ]);
    expect(inbox[0]).toEqual({
      seq: 1,
      id: 'e1',
      event: 'xp:gained',
      ts: 1_000,
      payload: item('e1', []).payload,
    });
    expect(await redis.ttl(keys.inbox(ana!))).toBeGreaterThan(50);
    expect(await redis.ttl(keys.user(ana!))).toBe(-1);
  });

  it('refuses a user of another partition rather than touch a key outside the slot', async () => {
    const keys = createKeys(uniquePrefix());
    const { partition, users } = usersOfOnePartition(keys, 1);
    let other = uniqueUser('other');
    while (keys.partitionOf(other) === partition) other = uniqueUser('other');
    await expect(sequence(keys, partition, [item('x', [users[0]!, other])])).rejects.toThrow(/partition/);
  });

  it('claims a supplied event id once per fingerprint and names the parts of another that differ', async () => {
    const keys = createKeys(uniquePrefix());
    expect(await claimEventId(redis, keys, 'c1', 'a.b.c.d')).toEqual({ kind: 'new' });
    expect(await claimEventId(redis, keys, 'c1', 'a.b.c.d')).toEqual({ kind: 'same' });
    expect(await claimEventId(redis, keys, 'c1', 'a.X.c.Y')).toEqual({
      kind: 'conflict',
      differ: ['to', 'fallback'],
    });
    expect(await redis.ttl(keys.eventIdClaim('c1'))).toBeGreaterThan(23 * 3_600);
  });

  it('replays after a cursor, and reports what the trimmed inbox no longer holds as a gap', async () => {
    const keys = createKeys(uniquePrefix());
    const user = uniqueUser('trim');
    for (let i = 1; i <= 8; i++) await sequence(keys, keys.partitionOf(user), [item(`e${i}`, [user])], 5);
    const seqs = (replay: { entries: string[] }) =>
      replay.entries.map((raw) => (JSON.parse(raw) as InboxEntry).seq);

    const recent = await readReplay(redis, keys, user, 5);
    expect(recent).toMatchObject({ latest: 8, gap: null });
    expect(seqs(recent)).toEqual([6, 7, 8]);
    // The inbox holds 4..8: a cursor at 3 misses nothing, one at 1 misses 2 and 3.
    expect(await readReplay(redis, keys, user, 3)).toMatchObject({ gap: null });
    const old = await readReplay(redis, keys, user, 1);
    expect(old.gap).toEqual({ fromSeq: 2, toSeq: 3 });
    expect(seqs(old)).toEqual([4, 5, 6, 7, 8]);
    expect(await readReplay(redis, keys, user, 8)).toEqual({ latest: 8, gap: null, entries: [] });

    // An expired inbox: everything after the cursor is a gap.
    await redis.del(keys.inbox(user));
    expect(await readReplay(redis, keys, user, 6)).toEqual({
      latest: 8,
      gap: { fromSeq: 7, toSeq: 8 },
      entries: [],
    });
    // A user with no events at all.
    expect(await readReplay(redis, keys, uniqueUser('none'), 0)).toEqual({
      latest: 0,
      gap: null,
      entries: [],
    });
  });

  it('keeps the highest ack of any device, never above the latest seq, and creates nothing for a user without events', async () => {
    const keys = createKeys(uniquePrefix());
    const [user, stranger] = [uniqueUser('ack'), uniqueUser('stranger')];
    await sequence(keys, keys.partitionOf(user), [
      item('a1', [user]),
      item('a2', [user]),
      item('a3', [user]),
    ]);
    expect(await recordAck(redis, keys, user, 2)).toBe(2);
    expect(await recordAck(redis, keys, user, 1)).toBe(2);
    expect(await recordAck(redis, keys, user, 99)).toBe(3);
    expect(await recordAck(redis, keys, stranger, 5)).toBe(0);
    expect(await redis.exists(keys.user(stranger))).toBe(0);
    expect(await readAckedSeqs(redis, keys, [user, stranger])).toEqual(
      new Map([
        [user, 3],
        [stranger, 0],
      ]),
    );
  });

  it('records the acks of users of many partitions in one call, answering in their order', async () => {
    const keys = createKeys(uniquePrefix());
    const users = Array.from({ length: 40 }, (_, i) => uniqueUser(`many${i}`));
    expect(new Set(users.map((u) => keys.partitionOf(u))).size).toBeGreaterThan(5);
    for (const user of users) await sequence(keys, keys.partitionOf(user), [item(`m-${user}`, [user])]);
    const acks = new Map(users.map((user, i) => [user, i % 2 === 0 ? 1 : 7]));
    expect(await recordAcks(redis, keys, acks)).toEqual(users.map((_, i) => (i % 2 === 0 ? 1 : 1)));
    expect(await readAckedSeqs(redis, keys, users)).toEqual(new Map(users.map((user) => [user, 1])));
  });
});

describe('presence by device kind', () => {
  it('tells devices that ack from plain ones', async () => {
    const keys = createKeys(uniquePrefix());
    const node = new PresenceRegistry({ redis, keys, nodeId: 'n', ttlMs: 60_000 });
    const [both, acking, away] = [uniqueUser('both'), uniqueUser('acking'), uniqueUser('away')];
    await node.add(both, 's1', true);
    await node.add(both, 's2', false);
    await node.add(acking, 's3', true);
    const found = await new PresenceReader(redis, keys).devicesAmong([both, acking, away]);
    expect([...found.keys()].sort()).toEqual([both, acking].sort());
    expect(found.get(both)?.devices).toBe(2);
    // Plain devices by member, with the expiry of their entry (it moves on with each heartbeat).
    expect(Object.keys(found.get(both)?.plain ?? {})).toEqual(['n|s2|p']);
    expect(found.get(both)?.plain['n|s2|p']).toBeGreaterThan(Date.now() + 50_000);
    expect(found.get(acking)).toEqual({ devices: 1, plain: {} });
    await node.remove(both, 's2');
    expect((await new PresenceReader(redis, keys).devicesAmong([both])).get(both)).toEqual({
      devices: 1,
      plain: {},
    });
    await node.clearLocal();
  });
});

describe('the dispatcher reads', () => {
  it("reads an entry's users' live presence in one call, the same as one command each", async () => {
    const keys = createKeys(uniquePrefix());
    const {
      users: [ana, ben, gone],
    } = usersOfOnePartition(keys, 3);
    const node = new PresenceRegistry({ redis, keys, nodeId: 'n', ttlMs: 60_000 });
    await node.add(ana!, 's1', true);
    await node.add(ana!, 's2', false);
    // An entry whose expiry has passed (a dead node's left-over) does not count.
    await redis.zadd(keys.presence(gone!), Date.now() - 1, 'dead|s9|a');
    const users = [ana!, ben!, gone!];
    const devices = await readLivePresence(redis, keys, users);
    expect(devices).toEqual(await new PresenceReader(redis, keys).devicesAmong(users));
    expect([...devices.keys()]).toEqual([ana]);
    expect(await readLivePresence(redis, keys, [])).toEqual(new Map());
    await node.clearLocal();
  });
});

describe('scripts on an auto-pipelining connection', () => {
  it('run in the same tick as the connection’s first command (they are defined when it is made)', async () => {
    const keys = createKeys(uniquePrefix());
    const user = uniqueUser('pipelined');
    const pipelined = createRedis(inject('redisUrl'), { enableAutoPipelining: true });
    try {
      // The PING opens an auto pipeline; the script joins it in the same tick. A script
      // defined only now would be missing from that pipeline, and ioredis would crash.
      const [pong, devices] = await Promise.all([
        pipelined.ping(),
        readLivePresence(pipelined, keys, [user]),
      ]);
      expect(pong).toBe('PONG');
      expect(devices).toEqual(new Map());
    } finally {
      await pipelined.quit();
    }
  });
});
