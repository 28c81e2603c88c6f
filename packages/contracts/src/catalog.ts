import { z } from 'zod';

/** Which channel carries an event when no device of its user received it. */
export const FallbackChannel = z.enum(['email', 'none']);
export type FallbackChannel = z.infer<typeof FallbackChannel>;

/** One publishable event: its payload schema and what happens when nobody is there. */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Default fallback for user-targeted publishes of this event. @default 'none' */
  fallback: FallbackChannel;
}

/** A catalog maps event names to their definitions. */
export type Catalog = Record<string, EventDefinition>;

/**
 * Declares one event of a catalog.
 *
 * @example
 * const catalog = extendCatalog(defaultCatalog, {
 *   'order:shipped': defineEvent(z.object({ orderId: z.string() }), { fallback: 'email' }),
 * });
 */
export function defineEvent<S extends z.ZodType>(
  schema: S,
  options: { fallback?: FallbackChannel } = {},
): EventDefinition<S> {
  return { schema, fallback: options.fallback ?? 'none' };
}

// Payloads of the original module. Objects are loose: extra fields that apps already send
// reach clients unchanged ("exactly as published"); the named fields are the contract.

/**
 * A notification as the original module's callers pass it. No field is required:
 * the module's own examples send `{ type, groupId, message }` without a title.
 */
export const Notification = z.looseObject({
  id: z.string().min(1).optional(),
  title: z.string().min(1).optional(),
  message: z.string().optional(),
  type: z.string().optional(),
});
export type Notification = z.infer<typeof Notification>;

const Timestamp = z.union([z.string().min(1), z.number()]);

export const NotificationNewPayload = z.looseObject({
  notification: Notification,
  timestamp: Timestamp.optional(),
});
export const NotificationReadPayload = z.looseObject({
  notificationId: z.string().min(1),
  success: z.boolean(),
});
export const NotificationDeletedPayload = z.looseObject({ notificationId: z.string().min(1) });
export const NotificationUnreadCountPayload = z.looseObject({ unreadCount: z.number().int().nonnegative() });
export const AchievementUnlockedPayload = z.looseObject({
  achievementId: z.string().min(1),
  title: z.string().min(1),
  description: z.string().optional(),
  icon: z.string().optional(),
});
export const RankUpdatedPayload = z.looseObject({
  newRank: z.string().min(1),
  oldRank: z.string(),
  xpRequired: z.number().optional(),
});
export const XpGainedPayload = z.looseObject({
  amount: z.number(),
  source: z.string().min(1),
  totalXp: z.number(),
});
export const LeaderboardUpdatedPayload = z.looseObject({ leaderboard: z.array(z.unknown()) });

/** The default catalog: every publishable server→client event of the original module. */
export const defaultCatalog = {
  'notification:new': defineEvent(NotificationNewPayload, { fallback: 'email' }),
  'notification:read': defineEvent(NotificationReadPayload),
  'notification:deleted': defineEvent(NotificationDeletedPayload),
  'notification:unread_count': defineEvent(NotificationUnreadCountPayload),
  'achievement:unlocked': defineEvent(AchievementUnlockedPayload),
  'rank:updated': defineEvent(RankUpdatedPayload),
  'xp:gained': defineEvent(XpGainedPayload),
  'leaderboard:updated': defineEvent(LeaderboardUpdatedPayload),
} satisfies Catalog;

export type DefaultCatalog = typeof defaultCatalog;

/**
 * Adds an application's own events to a catalog. Redefining a default event is
 * allowed (the later definition wins), so an app can tighten a payload schema.
 */
export function extendCatalog<Base extends Catalog, Extra extends Catalog>(
  base: Base,
  extra: Extra,
): Omit<Base, keyof Extra> & Extra {
  return { ...base, ...extra };
}

/** The payload type of event `E` in catalog `C`. */
export type PayloadOf<C extends Catalog, E extends keyof C> = z.input<C[E]['schema']>;
