import { describe, expect, it } from 'vitest';
import { mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { createEmitter, device, nextEvent, startTestNode, useCleanup, useRedis } from './support.js';

describe('rooms claim', () => {
  const defer = useCleanup();

  it('joins the rooms a token lists: members receive room events, others do not', async () => {
    const prefix = uniquePrefix('rooms');
    const first = await startTestNode(prefix, defer);
    const second = await startTestNode(prefix, defer);
    const { redis, keys } = useRedis(prefix, defer);
    const victim = uniqueUser('victim');
    const member = await device(first.url, defer, {
      token: mintToken(uniqueUser(), { rooms: ['team-1', 'league:gold'] }),
    });
    const memberElsewhere = await device(second.url, defer, {
      token: mintToken(uniqueUser(), { rooms: ['team-1'] }),
    });
    // A token may not put a device into a user's room, not even through the rooms claim.
    const outsider = await device(second.url, defer, {
      token: mintToken(uniqueUser(), { rooms: ['team-2', `user:${victim}`] }),
    });

    const emitter = createEmitter(redis, keys);
    const got = nextEvent(member, 'leaderboard:updated');
    const gotElsewhere = nextEvent(memberElsewhere, 'leaderboard:updated');
    await emitter
      .to('team-1')
      .emit('leaderboard:updated', { leaderboard: [{ user: 'x', xp: 1 }] }, { id: 'r-1', ts: 1 });
    expect(await got).toEqual([{ leaderboard: [{ user: 'x', xp: 1 }] }, { id: 'r-1', ts: 1 }]);
    expect((await gotElsewhere)[0]).toEqual({ leaderboard: [{ user: 'x', xp: 1 }] });

    const gold = nextEvent(member, 'rank:updated');
    await emitter
      .to('league:gold')
      .emit('rank:updated', { newRank: 'gold', oldRank: 'silver' }, { id: 'r-2', ts: 2 });
    await gold;

    await emitter
      .to(`user:${victim}`)
      .emit('notification:new', { notification: { title: 'private' } }, { id: 'r-3', ts: 3 });
    // Ordered channel: the outsider's own marker arrives after anything sent before it.
    const marker = nextEvent(outsider, 'xp:gained');
    await emitter
      .to('team-2')
      .emit('xp:gained', { amount: 1, source: 'marker', totalXp: 1 }, { id: 'r-4', ts: 4 });
    await marker;
    expect(outsider.payloads('leaderboard:updated')).toEqual([]);
    expect(outsider.payloads('rank:updated')).toEqual([]);
    expect(outsider.payloads('notification:new')).toEqual([]);
    expect(memberElsewhere.payloads('rank:updated')).toEqual([]);
  });
});
