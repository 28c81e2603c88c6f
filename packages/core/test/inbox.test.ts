import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { InboxEntry } from '@herald/contracts';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import {
  defineInboxCommands,
  queueSequencing,
  readAckedSeqs,
  readDeliveryState,
  readEventRecords,
  readLatestSeq,
  readReplay,
  recordAck,
  type SequenceItem,
} from '../src/inbox.js';
import { createKeys, type RedisKeys } from '../src/keys.js';
import { PresenceReader, PresenceRegistry } from '../src/presence.js';
import { createRedis, type Redis } from '../src/redis.js';

let redis: Redis;
beforeAll(() => {
  redis = createRedis(inject('redisUrl'));
  defineInboxCommands(redis);
});
afterAll(async () => {
  await redis.quit();
});

const item = (eventId: string, userIds: string[], jobId = 'job-1'): SequenceItem & { jobId: string } => ({
  eventId,
  part: 0,
  jobId,
  userIds,
  event: 'xp:gained',
  payload: { amount: 1, source: eventId, totalXp: 1 },
  publishedAt: 1_000,
});

/** Sequences items in one MULTI, one script call per run of items of the same job (as the publisher does per job). */
async function sequence(
  keys: RedisKeys,
  items: Array<SequenceItem & { jobId: string }>,
  inboxMax = 500,
): Promise<unknown[]> {
  const multi = redis.multi();
  const runs: Array<{ jobId: string; items: SequenceItem[] }> = [];
  for (const { jobId, ...rest } of items) {
    const last = runs[runs.length - 1];
    if (last?.jobId === jobId) last.items.push(rest);
    else runs.push({ jobId, items: [rest] });
  }
  for (const run of runs) queueSequencing(multi, keys, run.jobId, run.items, { inboxMax, inboxTtlS: 60 });
  const results = (await multi.exec()) ?? [];
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

describe('the inbox', () => {
  it('gives each user contiguous seqs, records them per event, and sequences a repeated event id once', async () => {
    const keys = createKeys(uniquePrefix());
    const [ana, ben] = [uniqueUser('ana'), uniqueUser('ben')];
    expect(
      await sequence(keys, [item('e1', [ana]), item('e2', [ana, ben]), item('e1', [ana], 'job-2')]),
    ).toEqual([[1, 1], [0]]);
    expect(await readLatestSeq(redis, keys, ana)).toBe(2);
    expect(await readLatestSeq(redis, keys, ben)).toBe(1);
    expect(
      await readEventRecords(redis, keys, [
        { eventId: 'e2', part: 0 },
        { eventId: 'nope', part: 0 },
      ]),
    ).toEqual([{ jobId: 'job-1', seqs: [2, 1], fingerprint: '' }, null]);
    const entries = (await redis.lrange(keys.inbox(ana), 0, -1)).map((raw) =>
      InboxEntry.parse(JSON.parse(raw)),
    );
    expect(entries.map((e) => [e.seq, e.id])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
    ]);
    expect(entries[0]).toEqual({
      seq: 1,
      id: 'e1',
      event: 'xp:gained',
      ts: 1_000,
      payload: item('e1', []).payload,
    });
    expect(await redis.ttl(keys.inbox(ana))).toBeGreaterThan(50);
    expect(await redis.ttl(keys.user(ana))).toBe(-1);
  });

  it('replays after a cursor, and reports what the trimmed inbox no longer holds as a gap', async () => {
    const keys = createKeys(uniquePrefix());
    const user = uniqueUser('trim');
    for (let i = 1; i <= 8; i++) await sequence(keys, [item(`e${i}`, [user])], 5);
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
    await sequence(keys, [item('a1', [user]), item('a2', [user]), item('a3', [user])]);
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
  it("reads a job's seqs and its users' presence in one call, the same as one command each", async () => {
    const keys = createKeys(uniquePrefix());
    const [ana, ben, gone] = [uniqueUser('ana'), uniqueUser('ben'), uniqueUser('gone')];
    // r1 stands for a room or broadcast item: recorded, no users, no seqs.
    await sequence(keys, [item('e1', [ana, ben]), item('e2', [ben]), item('r1', [])]);
    // job-2 carries e2 again (a republish) and a new event: only the new one is its own.
    await sequence(keys, [item('e2', [ben], 'job-2'), item('e3', [ana], 'job-2')]);
    const node = new PresenceRegistry({ redis, keys, nodeId: 'n', ttlMs: 60_000 });
    await node.add(ana, 's1', true);
    await node.add(ana, 's2', false);
    // An entry whose expiry has passed (a dead node's left-over) does not count.
    await redis.zadd(keys.presence(gone), Date.now() - 1, 'dead|s9|a');
    const users = [ana, ben, gone];
    const state = await readDeliveryState(redis, keys, 'job-1', users);
    expect(state.jobSeqs).toEqual([[1, 1], [2], []]);
    expect((await readDeliveryState(redis, keys, 'job-2', [])).jobSeqs).toEqual([null, [2]]);
    expect((await readDeliveryState(redis, keys, 'no-such-job', [])).jobSeqs).toBeNull();
    expect(state.devices).toEqual(await new PresenceReader(redis, keys).devicesAmong(users));
    expect([...state.devices.keys()]).toEqual([ana]);
    // Each pair's record names the job that delivers it and finds its seqs there.
    expect(
      await readEventRecords(redis, keys, [
        { eventId: 'e2', part: 0 },
        { eventId: 'nope', part: 0 },
        { eventId: 'e1', part: 0 },
        { eventId: 'e3', part: 0 },
      ]),
    ).toEqual([
      { jobId: 'job-1', seqs: [2], fingerprint: '' },
      null,
      { jobId: 'job-1', seqs: [1, 1], fingerprint: '' },
      { jobId: 'job-2', seqs: [2], fingerprint: '' },
    ]);
    await node.clearLocal();
  });
});
