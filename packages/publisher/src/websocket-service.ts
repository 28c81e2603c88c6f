import type { DefaultCatalog, PayloadOf, PublishOptions } from '@herald/contracts';
import type { Publisher } from './publisher.js';

type Payload<E extends keyof DefaultCatalog> = PayloadOf<DefaultCatalog, E>;

/** A notification as the original module's callers pass it (no field required; extra fields reach clients as sent). */
export type NotificationInput = Payload<'notification:new'>['notification'];

/**
 * The original module's `WebSocketService`, backed by Herald. Callers migrate by
 * changing the import and awaiting the calls:
 *
 * ```ts
 * // before: import { WebSocketService } from '@/modules/websocket';
 * //         this.wsService.emitNotificationToUser(userId, notification);
 * import { createPublisher, createWebSocketService } from '@herald/publisher';
 * const wsService = createWebSocketService(createPublisher({ redisUrl: process.env.REDIS_URL }));
 * await wsService.emitNotificationToUser(userId, notification);
 * ```
 *
 * Differences that matter when migrating:
 * - Every method returns a Promise. `emit*` resolve to the event id once the event
 *   is queued (durably, in Redis), not when a device received it; they reject with a
 *   `HeraldError` naming the field when a payload does not fit its schema.
 * - `isUserConnected` is async now (presence is shared by every socket node in
 *   Redis): write `if (await wsService.isUserConnected(id))`. Without the `await`
 *   a Promise is always truthy.
 * - `notification:new` falls back to email when no device is connected, so the
 *   usual "if offline, send an email" branch is no longer needed; pass
 *   `{ fallback: false }` to keep doing it yourself.
 */
export interface WebSocketService {
  /** `notification:new { notification, timestamp }` to every device of `userId`. */
  emitNotificationToUser(
    userId: string,
    notification: NotificationInput,
    options?: PublishOptions,
  ): Promise<string>;
  /**
   * `notification:new { notification, timestamp }` to each user in `userIds` (one
   * event, split into chunks by Herald). An empty list publishes nothing and
   * resolves to `undefined`, as the original's loop did nothing.
   */
  emitNotificationToUsers(
    userIds: string[],
    notification: NotificationInput,
    options?: PublishOptions,
  ): Promise<string | undefined>;
  /** `leaderboard:updated { leaderboard }` to every connected device. Live only: no fallback, no replay. */
  broadcastLeaderboardUpdate(
    leaderboard: Payload<'leaderboard:updated'>['leaderboard'],
    options?: PublishOptions,
  ): Promise<string>;
  /** `achievement:unlocked { achievementId, title, description?, icon? }` to `userId`. */
  emitAchievementUnlocked(
    userId: string,
    data: Payload<'achievement:unlocked'>,
    options?: PublishOptions,
  ): Promise<string>;
  /** `xp:gained { amount, source, totalXp }` to `userId`. */
  emitXpGained(userId: string, data: Payload<'xp:gained'>, options?: PublishOptions): Promise<string>;
  /** `rank:updated { newRank, oldRank, xpRequired? }` to `userId`. */
  emitRankUpdated(userId: string, data: Payload<'rank:updated'>, options?: PublishOptions): Promise<string>;
  /** Any event of the default catalog to `userId`. */
  emitToUser<E extends keyof DefaultCatalog>(
    userId: string,
    event: E,
    payload: Payload<E>,
    options?: PublishOptions,
  ): Promise<string>;
  /** Async now: resolves true while any device of `userId` is connected to any socket node. */
  isUserConnected(userId: string): Promise<boolean>;
}

/** Wraps a publisher in the original module's `WebSocketService` API. See {@link WebSocketService}. */
export function createWebSocketService(publisher: Publisher<DefaultCatalog>): WebSocketService {
  const newNotification = (notification: NotificationInput): Payload<'notification:new'> => ({
    notification,
    // The original stamped each emit with the time it was sent, as an ISO string.
    timestamp: new Date().toISOString(),
  });
  return {
    emitNotificationToUser: (userId, notification, options) =>
      publisher.toUser(userId).emit('notification:new', newNotification(notification), options),
    emitNotificationToUsers: async (userIds, notification, options) => {
      if (userIds.length === 0) return undefined;
      return publisher.toUsers(userIds).emit('notification:new', newNotification(notification), options);
    },
    broadcastLeaderboardUpdate: (leaderboard, options) =>
      publisher.broadcast().emit('leaderboard:updated', { leaderboard }, options),
    emitAchievementUnlocked: (userId, data, options) =>
      publisher.toUser(userId).emit('achievement:unlocked', data, options),
    emitXpGained: (userId, data, options) => publisher.toUser(userId).emit('xp:gained', data, options),
    emitRankUpdated: (userId, data, options) => publisher.toUser(userId).emit('rank:updated', data, options),
    emitToUser: (userId, event, payload, options) => publisher.toUser(userId).emit(event, payload, options),
    isUserConnected: (userId) => publisher.isUserConnected(userId),
  };
}
