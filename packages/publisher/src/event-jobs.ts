import type { JobsOptions } from 'bullmq';
import {
  EVENTS_PER_JOB,
  USERS_PER_JOB,
  chunk,
  type EventJobData,
  type EventJobItem,
  type PreparedEvent,
} from '@herald/contracts';
import { eventFingerprint } from './event-fingerprint.js';

/**
 * Options of every events job. The retention keeps Redis bounded while leaving
 * enough history to inspect: the last 1,000 completed jobs, for an hour at most (a
 * completed job keeps its data, and under load a job carries up to `maxBatchEvents`
 * events: 1,000 jobs of 200 bench events take 79 MiB of Redis memory, so the 10,000
 * kept before could reach 0.8 GB). Failed jobs stay a week so a poison event can be
 * looked at before it disappears.
 */
const BASE_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
} as const satisfies JobsOptions;

/** One job to add to the events queue. */
export interface EventJob {
  name: string;
  data: EventJobData;
  opts: JobsOptions;
  /** Each item's payload as JSON where it is known (for its inbox entries), by index in `data.events`. */
  payloadJsons?: ReadonlyArray<string | undefined>;
  /** Each item's event fingerprint (`eventFingerprint`), by index in `data.events`: recorded with its event id. */
  fingerprints: readonly string[];
}

/** An item with what it weighs in a job: its user ids and its payload bytes. */
export interface SizedItem {
  item: EventJobItem;
  users: number;
  bytes: number;
  /** The payload as JSON, measured while validating. */
  payloadJson?: string;
  /** The event's fingerprint (`eventFingerprint`), the same for every part of a `toUsers`. */
  fingerprint: string;
}

/** How much one job may carry; a job is closed when the next item would exceed a bound. */
export interface JobLimits {
  /** Items per job. @default 200 */
  maxEvents: number;
  /** Sum of payload bytes (JSON) per job. @default 1_048_576 */
  maxBytes: number;
}

/**
 * Turns a prepared event into the items that carry it: one per `USERS_PER_JOB`
 * user ids, so a `toUsers` of 10,000 is 20 slices in 20 jobs instead of one giant
 * one the dispatcher would have to hold (and retry) whole. Rooms and broadcast are
 * one item. The split is deterministic, so a repeated publish of the same event id
 * lines up part for part with the dispatcher's per-(eventId, part) claims.
 */
export function toEventItems(event: PreparedEvent): SizedItem[] {
  const targets =
    event.target.kind === 'users'
      ? chunk(event.target.userIds, USERS_PER_JOB).map((userIds) => ({ kind: 'users' as const, userIds }))
      : [event.target];
  const bytes = event.payloadBytes ?? 0;
  const fingerprint = eventFingerprint(event);
  return targets.map((target, index) => ({
    item: {
      eventId: event.eventId,
      event: event.event,
      payload: event.payload,
      target,
      fallback: event.fallback,
      publishedAt: event.publishedAt,
      part: { index, count: targets.length },
    },
    users: target.kind === 'users' ? target.userIds.length : 0,
    bytes,
    fingerprint,
    ...(event.payloadJson === undefined ? {} : { payloadJson: event.payloadJson }),
  }));
}

/**
 * Packs items, in order, into as few jobs as the limits allow: at most `maxEvents`
 * items, `USERS_PER_JOB` user ids and `maxBytes` payload bytes per job (a single
 * item larger than a bound still gets a job of its own). Each job is named for its
 * event when all its items share one, which keeps the queue readable in dashboards.
 */
export function packEventJobs(items: readonly SizedItem[], limits: JobLimits): EventJob[] {
  const maxEvents = Math.min(limits.maxEvents, EVENTS_PER_JOB);
  const jobs: EventJob[] = [];
  let current: EventJobItem[] = [];
  let jsons: Array<string | undefined> = [];
  let fingerprints: string[] = [];
  let users = 0;
  let bytes = 0;
  const close = () => {
    if (current.length === 0) return;
    const first = current[0] as EventJobItem;
    const name = current.every((item) => item.event === first.event) ? first.event : 'batch';
    jobs.push({
      name,
      data: { events: current },
      opts: { ...BASE_JOB_OPTIONS },
      payloadJsons: jsons,
      fingerprints,
    });
    current = [];
    jsons = [];
    fingerprints = [];
    users = 0;
    bytes = 0;
  };
  for (const sized of items) {
    if (
      current.length >= maxEvents ||
      users + sized.users > USERS_PER_JOB ||
      (current.length > 0 && bytes + sized.bytes > limits.maxBytes)
    ) {
      close();
    }
    current.push(sized.item);
    jsons.push(sized.payloadJson);
    fingerprints.push(sized.fingerprint);
    users += sized.users;
    bytes += sized.bytes;
  }
  close();
  return jobs;
}
