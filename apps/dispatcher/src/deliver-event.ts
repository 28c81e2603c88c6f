import { Emitter, RESERVED_EVENTS } from '@socket.io/redis-emitter';
import type { Queue } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import {
  EventJobData,
  describeIssues,
  toFieldIssues,
  type DeliveryMeta,
  type FallbackJobData,
} from '@herald/contracts';
import { trackPublishes, type Logger, type PresenceReader, type Redis, type RedisKeys } from '@herald/core';
import { toFallbackJobs, type FallbackJobSettings } from './fallback-jobs.js';

export interface DeliverEventDeps {
  /** Connection for presence reads and PUBLISH (auto-pipelined). */
  redis: Redis;
  keys: RedisKeys;
  presence: PresenceReader;
  fallbackQueue: Queue<FallbackJobData>;
  fallback: FallbackJobSettings;
  logger: Logger;
}

/** What one events job did, kept as the job's return value for inspection. */
export interface DeliveryResult {
  kind: 'users' | 'room' | 'broadcast';
  emitted: number;
  fallbacks: number;
}

/**
 * Validates the data of one events job read back from Redis. Anything that does not
 * match its schema is a poison job: retrying cannot fix it, so it fails at once with
 * the reason and goes to the failed set instead of holding up the queue.
 */
export function parseEventJob(data: unknown): EventJobData {
  const parsed = EventJobData.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid_job: ${describeIssues(toFieldIssues(parsed.error, 'data'))}`);
  }
  if (RESERVED_EVENTS.has(parsed.data.event)) {
    throw new UnrecoverableError(`invalid_job: data.event: "${parsed.data.event}" is reserved by Socket.IO`);
  }
  return parsed.data;
}

/**
 * Delivers one events job. For users: one pipelined presence read for the whole
 * chunk, then one PUBLISH per online user (auto-pipelined into a few writes) and,
 * at the same time, fallback jobs for the offline ones (one MULTI through addBulk).
 * The job completes only once Redis took both. Live delivery does not wait for the
 * fallback scheduling, which is the slower half of a large chunk; the price is that
 * when scheduling fails, the retry emits to the online users again. Devices dedupe
 * on `meta.id`, and the fallback jobs have fixed ids, so a retry adds none twice.
 */
export async function deliverEvent(data: unknown, deps: DeliverEventDeps): Promise<DeliveryResult> {
  const job = parseEventJob(data);
  const tracker = trackPublishes(deps.redis);
  const emitter = new Emitter(tracker.client, { key: deps.keys.socketIoChannel });
  const meta: DeliveryMeta = { id: job.eventId, ts: job.publishedAt };
  const { target } = job;

  let result: DeliveryResult;
  let scheduled: Promise<unknown> = Promise.resolve();
  switch (target.kind) {
    case 'users': {
      const online = await deps.presence.onlineAmong(target.userIds);
      for (const userId of online) emitter.to(`user:${userId}`).emit(job.event, job.payload, meta);
      const offline = job.fallback ? target.userIds.filter((id) => !online.has(id)) : [];
      if (job.fallback && offline.length > 0) {
        scheduled = deps.fallbackQueue.addBulk(toFallbackJobs(job, job.fallback, offline, deps.fallback));
      }
      result = { kind: 'users', emitted: online.size, fallbacks: offline.length };
      break;
    }
    case 'room':
      emitter.to(target.room).emit(job.event, job.payload, meta);
      result = { kind: 'room', emitted: 1, fallbacks: 0 };
      break;
    case 'broadcast':
      emitter.emit(job.event, job.payload, meta);
      result = { kind: 'broadcast', emitted: 1, fallbacks: 0 };
      break;
  }
  // We must await here: the emitter does not, and the job must not complete before Redis took every PUBLISH.
  await Promise.all([tracker.settled(), scheduled]);
  deps.logger.debug({ eventId: job.eventId, event: job.event, part: job.part, ...result }, 'event delivered');
  return result;
}
