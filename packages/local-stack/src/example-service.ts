import { randomUUID } from 'node:crypto';
import type { ClientEventRecord } from '@herald/contracts';
import type { Logger } from '@herald/core';
import { createWebSocketService, type ClientEventsConsumer, type Publisher } from '@herald/publisher';

export interface ExampleServiceOptions {
  /** Where the service publishes and whose client-events stream it reads. */
  publisher: Publisher;
  /** Who receives the periodic notifications. */
  userId: string;
  /** Time between two notifications; 0 publishes none (mark_read is still answered). @default 5_000 */
  intervalMs?: number;
  /**
   * Publish only while the user has a connected device. A demo left running with
   * the page closed then stays quiet instead of producing a fallback email every
   * few seconds. @default true
   */
  onlyWhileOnline?: boolean;
  /** Unread notifications remembered per user; older ones are forgotten so a long run stays small. @default 1_000 */
  maxUnread?: number;
  /** Consumer group of this service on the client-events stream. @default 'example-service' */
  group?: string;
  logger: Logger;
}

export interface ExampleService {
  /** Notifications published so far. */
  readonly published: number;
  /** Stops publishing and consuming; waits for a publish in flight. */
  stop(): Promise<void>;
}

/**
 * A stand-in for a real domain service (a notifications service, say): it
 * publishes a `notification:new` to one user at an interval (while that user is
 * online) through the original module's facade, keeps the unread ones, and answers each
 * `notification:mark_read` from any user with `notification:read` and
 * `notification:unread_count`, as a real service would after updating its store.
 */
export function startExampleService(options: ExampleServiceOptions): ExampleService {
  const intervalMs = options.intervalMs ?? 5_000;
  const maxUnread = options.maxUnread ?? 1_000;
  const log = options.logger.child({ component: 'example-service' });
  const { publisher } = options;
  const ws = createWebSocketService(publisher);
  // userId → unread notification ids, oldest first (a Set keeps insertion order).
  const unread = new Map<string, Set<string>>();
  let published = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const unreadOf = (userId: string) => {
    let set = unread.get(userId);
    if (!set) unread.set(userId, (set = new Set()));
    return set;
  };

  const publishOne = async () => {
    if ((options.onlyWhileOnline ?? true) && !(await ws.isUserConnected(options.userId))) return;
    const number = published + 1;
    const id = `demo-${number}-${randomUUID().slice(0, 8)}`;
    const set = unreadOf(options.userId);
    const eventId = await ws.emitNotificationToUser(options.userId, {
      id,
      title: `Demo notification #${number}`,
      message: `Sent by the example service at ${new Date().toLocaleTimeString('en-GB')}`,
      type: 'demo',
    });
    published = number;
    set.add(id);
    if (set.size > maxUnread) set.delete(set.values().next().value as string);
    await ws.emitToUser(options.userId, 'notification:unread_count', { unreadCount: set.size });
    log.debug({ eventId, notificationId: id }, 'published a demo notification');
  };

  const schedule = () => {
    if (stopped || intervalMs === 0) return;
    timer = setTimeout(() => {
      inFlight = publishOne()
        .catch((error: unknown) =>
          log.warn({ err: error }, 'publishing a demo notification failed; trying again next time'),
        )
        .finally(schedule);
    }, intervalMs);
  };

  const onClientEvent = async (record: ClientEventRecord) => {
    if (record.type !== 'notification:mark_read') return;
    // The socket node validated the payload and took userId from the token, so both can be trusted here.
    const { notificationId } = record.payload as { notificationId: string };
    const set = unreadOf(record.userId);
    const success = set.delete(notificationId);
    await ws.emitToUser(record.userId, 'notification:read', { notificationId, success });
    await ws.emitToUser(record.userId, 'notification:unread_count', { unreadCount: set.size });
    log.info({ userId: record.userId, notificationId, success }, 'marked a notification read');
  };

  const consumer: ClientEventsConsumer = publisher.consumeClientEvents(onClientEvent, {
    group: options.group ?? 'example-service',
  });
  schedule();
  log.info({ userId: options.userId, intervalMs }, 'example service started');

  return {
    get published() {
      return published;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      await consumer.stop();
    },
  };
}
