import { Emitter, RESERVED_EVENTS } from '@socket.io/redis-emitter';
import type { Queue } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import {
  EventJobDataV1,
  EventJobItem,
  describeIssues,
  toFieldIssues,
  type DeliveryMeta,
  type FallbackJobData,
} from '@herald/contracts';
import { trackPublishes, type Logger, type PresenceReader, type Redis, type RedisKeys } from '@herald/core';
import { claimEvents } from './event-claims.js';
import { toFallbackJob, type FallbackJobSettings } from './fallback-jobs.js';

export interface DeliverEventDeps {
  /** Connection for claims, presence reads and PUBLISH (auto-pipelined). */
  redis: Redis;
  keys: RedisKeys;
  presence: PresenceReader;
  fallbackQueue: Queue<FallbackJobData>;
  fallback: FallbackJobSettings;
  logger: Logger;
}

/** What one events job did, kept as the job's return value for inspection. */
export interface DeliveryResult {
  /** Events (or `toUsers` slices) the job carried. */
  events: number;
  /** Of those, skipped: their (eventId, part) was already delivered by another job (a repeated publish). */
  skipped: number;
  /** Users (online), rooms or broadcasts emitted to. */
  emitted: number;
  /** Offline users given a fallback check. */
  fallbacks: number;
  /** Fallback jobs scheduled for them: one per event (or slice), not one per user. */
  fallbackJobs: number;
}

/** The items of an events job, with the reasons of those that are invalid. */
export interface ParsedEventJob {
  items: EventJobItem[];
  invalid: string[];
}

function checkItem(data: unknown, path: string): EventJobItem | string {
  const parsed = EventJobItem.safeParse(data);
  if (!parsed.success) return describeIssues(toFieldIssues(parsed.error, path));
  if (RESERVED_EVENTS.has(parsed.data.event)) {
    return `${path}.event: "${parsed.data.event}" is reserved by Socket.IO`;
  }
  return parsed.data;
}

/**
 * Validates the data of one events job read back from Redis: a batch (`v: 2`) whose
 * items are checked one by one, or a single event written before batching (`v: 1`).
 * A job whose envelope is wrong is a poison job: retrying cannot fix it, so it throws
 * an `UnrecoverableError` with the reason and goes to the failed set at once instead
 * of holding up the queue. Invalid items of a valid batch are returned as reasons.
 */
export function parseEventJob(data: unknown): ParsedEventJob {
  const version = typeof data === 'object' && data !== null ? (data as { v?: unknown }).v : undefined;
  if (version === 1) {
    const parsed = EventJobDataV1.safeParse(data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid_job: ${describeIssues(toFieldIssues(parsed.error, 'data'))}`);
    }
    const { v: _v, ...item } = parsed.data;
    const checked = checkItem(item, 'data');
    if (typeof checked === 'string') throw new UnrecoverableError(`invalid_job: ${checked}`);
    return { items: [checked], invalid: [] };
  }
  const events =
    typeof data === 'object' && data !== null ? (data as { events?: unknown }).events : undefined;
  if (version !== 2 || !Array.isArray(events) || events.length === 0) {
    throw new UnrecoverableError(
      `invalid_job: data: expected { v: 2, events: [ … ] } (or a v: 1 event); got v ${JSON.stringify(version) ?? 'undefined'}`,
    );
  }
  const items: EventJobItem[] = [];
  const invalid: string[] = [];
  events.forEach((event: unknown, i) => {
    const checked = checkItem(event, `data.events.${i}`);
    if (typeof checked === 'string') invalid.push(checked);
    else items.push(checked);
  });
  return { items, invalid };
}

/**
 * Delivers one events job: a batch of events. Round trips are per job, not per event:
 *
 * 1. one script call claims every (eventId, part) of the batch (idempotency: a pair
 *    another job already delivered within 24 h is skipped; a retry of this job proceeds),
 *    sent together with 2.;
 * 2. one pipelined presence read for all users of all its events;
 * 3. one PUBLISH per event, addressed to all its online users' rooms at once, over the
 *    auto-pipelined connection, and at the same time one `addBulk` (one MULTI) of the
 *    fallback jobs: one per event (or slice) for all its offline users, since each
 *    add is a Lua script that holds Redis while the PUBLISHes of other jobs wait.
 *
 * The job completes only once Redis took every PUBLISH and the fallback jobs. Live
 * delivery does not wait for the fallback scheduling, which is the slower half of a
 * large chunk; the price is that when scheduling fails, the retry emits to the online
 * users again. Devices dedupe on `meta.id`, and the fallback jobs have fixed ids, so a
 * retry adds none twice.
 *
 * Invalid items of a batch are not retried: the valid ones are delivered, then the job
 * fails for good with the reasons (it stays in the failed set to be looked at).
 */
export async function deliverEvent(
  data: unknown,
  deps: DeliverEventDeps,
  /** Identifies this job across its retries and no other job: see `claimEvents`. */
  jobId: string,
): Promise<DeliveryResult> {
  const { items: parsed, invalid } = parseEventJob(data);
  // The same (eventId, part) twice in one job (one event id published twice in one tick) is delivered once.
  const seen = new Set<string>();
  const unique = parsed.filter((item) => {
    const key = `${item.part.index}|${item.eventId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const userIds = new Set<string>();
  for (const item of unique) {
    if (item.target.kind === 'users') for (const id of item.target.userIds) userIds.add(id);
  }
  // Claims and presence go out together: one round trip of latency, not two. Reading the
  // presence of a skipped (already delivered) event's users is wasted but harmless, and rare.
  const [claims, online] = await Promise.all([
    claimEvents(
      deps.redis,
      deps.keys,
      jobId,
      unique.map((item) => ({ eventId: item.eventId, part: item.part.index })),
    ),
    deps.presence.onlineAmong([...userIds]),
  ]);
  const items = unique.filter((_, i) => claims[i]);

  const tracker = trackPublishes(deps.redis);
  const emitter = new Emitter(tracker.client, { key: deps.keys.socketIoChannel });
  const fallbackJobs: Array<ReturnType<typeof toFallbackJob>> = [];
  let emitted = 0;
  let fallbacks = 0;
  for (const item of items) {
    const meta: DeliveryMeta = { id: item.eventId, ts: item.publishedAt };
    const { target } = item;
    switch (target.kind) {
      case 'users': {
        const rooms: string[] = [];
        const offline: string[] = [];
        for (const userId of target.userIds) {
          if (online.has(userId)) rooms.push(`user:${userId}`);
          else if (item.fallback) offline.push(userId);
        }
        // One PUBLISH for all the online users of the event: every node gets it once.
        if (rooms.length > 0) emitter.to(rooms).emit(item.event, item.payload, meta);
        if (item.fallback && offline.length > 0) {
          fallbackJobs.push(toFallbackJob(item, item.fallback, offline, deps.fallback));
          fallbacks += offline.length;
        }
        emitted += rooms.length;
        break;
      }
      case 'room':
        emitter.to(target.room).emit(item.event, item.payload, meta);
        emitted += 1;
        break;
      case 'broadcast':
        emitter.emit(item.event, item.payload, meta);
        emitted += 1;
        break;
    }
  }
  const scheduled = fallbackJobs.length > 0 ? deps.fallbackQueue.addBulk(fallbackJobs) : undefined;
  // We must await here: the emitter does not, and the job must not complete before Redis took every PUBLISH.
  await Promise.all([tracker.settled(), scheduled]);

  const result: DeliveryResult = {
    events: parsed.length,
    skipped: parsed.length - items.length,
    emitted,
    fallbacks,
    fallbackJobs: fallbackJobs.length,
  };
  deps.logger.debug({ jobId, ...result }, 'events delivered');
  if (invalid.length > 0) {
    throw new UnrecoverableError(`invalid_job: ${invalid.join('; ')}`);
  }
  return result;
}
