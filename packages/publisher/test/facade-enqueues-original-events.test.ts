import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { HeraldError } from '@herald/contracts';
import { uniquePrefix, uniqueUser } from '@herald/testing';
import {
  createPublisher,
  createWebSocketService,
  type Publisher,
  type WebSocketService,
} from '../src/index.js';
import { probeStreams, type StreamProbe } from './stream-probe.js';

const redisUrl = inject('redisUrl');

describe("the original module's WebSocketService facade", () => {
  let publisher: Publisher;
  let probe: StreamProbe;
  let ws: WebSocketService;

  beforeEach(() => {
    const prefix = uniquePrefix('facade');
    publisher = createPublisher({ redisUrl, prefix });
    probe = probeStreams(redisUrl, prefix);
    ws = createWebSocketService(publisher);
  });

  afterEach(async () => {
    await publisher.close();
    await probe.close();
  });

  /**
   * The one event a call enqueued, found by the id it resolved to: its name, and its data
   * with the users of all its slices (a `toUsers` is split by partition) in one target.
   */
  async function enqueued(id: string | undefined) {
    const mine = (await probe.events()).filter((e) => e.data.eventId === id).map((e) => e.data);
    expect(mine.length).toBeGreaterThan(0);
    const first = mine[0]!;
    const users = mine.flatMap((item) => (item.target.kind === 'users' ? item.target.userIds : []));
    const target = first.target.kind === 'users' ? { kind: 'users' as const, userIds: users } : first.target;
    return { name: first.event, data: { ...first, target } };
  }

  it('emitNotificationToUser → notification:new { notification, timestamp } to that user', async () => {
    const userId = uniqueUser();
    const notification = { id: 'n-1', title: 'Nuevo mensaje', message: 'Hola' };
    const before = Date.now();

    const job = await enqueued(await ws.emitNotificationToUser(userId, notification));

    expect(job.name).toBe('notification:new');
    expect(job.data.target).toEqual({ kind: 'users', userIds: [userId] });
    const payload = job.data.payload as { notification: unknown; timestamp: string };
    expect(payload.notification).toEqual(notification);
    expect(payload.timestamp).toBe(new Date(payload.timestamp).toISOString());
    expect(Date.parse(payload.timestamp)).toBeGreaterThanOrEqual(before - 1);
  });

  it('emitNotificationToUsers → one notification:new to all of them; an empty list publishes nothing', async () => {
    const ids = [uniqueUser(), uniqueUser(), uniqueUser()];
    const job = await enqueued(
      await ws.emitNotificationToUsers(ids, { title: 'Group message', type: 'group_message' }),
    );
    expect(job.name).toBe('notification:new');
    expect(job.data.target).toEqual({ kind: 'users', userIds: expect.arrayContaining(ids) });
    expect(job.data.target).toMatchObject({ userIds: { length: 3 } });
    expect(job.data.payload).toMatchObject({
      notification: { title: 'Group message', type: 'group_message' },
    });

    const entries = await probe.total();
    expect(await ws.emitNotificationToUsers([], { title: 'nobody' })).toBeUndefined();
    expect(await probe.total()).toBe(entries);
  });

  it('broadcastLeaderboardUpdate → leaderboard:updated { leaderboard } to everyone', async () => {
    const leaderboard = [
      { userId: 'a', xp: 10 },
      { userId: 'b', xp: 5 },
    ];
    const job = await enqueued(await ws.broadcastLeaderboardUpdate(leaderboard));
    expect(job.name).toBe('leaderboard:updated');
    expect(job.data.target).toEqual({ kind: 'broadcast' });
    expect(job.data.payload).toEqual({ leaderboard });
  });

  it('emitAchievementUnlocked, emitXpGained, emitRankUpdated and emitToUser send their events as given', async () => {
    const userId = uniqueUser();
    const achievement = { achievementId: 'ach-001', title: 'Primer Login', description: 'x', icon: '/i.png' };
    const xp = { amount: 100, source: 'daily_mission', totalXp: 1500 };
    const rank = { oldRank: 'Novato', newRank: 'Aprendiz', xpRequired: 2000 };
    const count = { unreadCount: 3 };

    const calls = [
      ['achievement:unlocked', achievement, await ws.emitAchievementUnlocked(userId, achievement)],
      ['xp:gained', xp, await ws.emitXpGained(userId, xp)],
      ['rank:updated', rank, await ws.emitRankUpdated(userId, rank)],
      ['notification:unread_count', count, await ws.emitToUser(userId, 'notification:unread_count', count)],
    ] as const;

    for (const [event, payload, id] of calls) {
      const job = await enqueued(id);
      expect(job.name).toBe(event);
      expect(job.data.payload).toEqual(payload);
      expect(job.data.target).toEqual({ kind: 'users', userIds: [userId] });
    }
  });

  it('rejects a bad payload with a HeraldError naming the field, as the publisher does', async () => {
    const untyped = { amount: 'lots', source: 's', totalXp: 1 } as unknown as {
      amount: number;
      source: string;
      totalXp: number;
    };
    const error: unknown = await ws.emitXpGained(uniqueUser(), untyped).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).message).toContain('payload.amount');
    expect(await probe.total()).toBe(0);
  });

  it('isUserConnected resolves false for a user with no device', async () => {
    expect(await ws.isUserConnected(uniqueUser())).toBe(false);
  });
});
