import { UnrecoverableError } from 'bullmq';
import {
  FallbackJobData,
  type FallbackCheck,
  describeIssues,
  toFieldIssues,
  userRoom,
  type DeliveryMeta,
} from '@herald/contracts';
import {
  groupByPartition,
  lookupEmail,
  readAckedSeqs,
  createShardedEmitter,
  type Logger,
  type PresenceReader,
  type RedisClient,
  type RedisKeys,
  type UserDevices,
} from '@herald/core';
import { addressHash } from './address-in-logs.js';
import { renderEmail, type EmailContent, type EmailTemplate } from './email-templates.js';
import { JobSummaryLog, NAMED_USERS, namesOf } from './job-summary-log.js';
import { fallbackMessageId, type Mailer } from './mailer.js';
import { RECHECK_MARGIN_MS } from './mark-ttl.js';

/** SMTP sends of one job in flight at once. */
export const SENDS_PER_JOB = 8;

/**
 * Values of the `fallback-sent` mark besides an email's send time: the fallback of that
 * (event, user) is settled, so a retry of the job (or a second job) leaves the user alone.
 */
const MARK_LIVE = 'live';
const MARK_RECEIVED = 'plain';
const MARK_UNDELIVERABLE = 'undeliverable';

export interface DeliverFallbackDeps {
  redis: RedisClient;
  keys: RedisKeys;
  presence: PresenceReader;
  mailer: Mailer;
  templates: Record<string, EmailTemplate>;
  logger: Logger;
  /**
   * How long each `fallback-sent` mark this job writes is kept (ms): as long as a check of
   * its (event, user) can still run, `fallbackMarkTtlMs` of the job's settings.
   */
  markTtlMs: number;
}

/** What one fallback job did for its users, kept as the job's return value (counts of users). */
export interface FallbackOutcome {
  /** Emailed by this run. */
  emailed: number;
  /** A device acked the event's seq before the check: no email. */
  acked: number;
  /** A plain (non-acking) device connected at the emit still is: it had the event, no email. */
  receivedPlain: number;
  /** Online on a plain device at the check that did not have it: got the event live, no email. */
  deliveredLive: number;
  /** Settled before this run (an earlier attempt, or another job for the same event and user). */
  alreadySent: number;
  /** Users left for a later run: see `recheckAt`. */
  waiting?: number;
  /**
   * When to run the job again (ms since the epoch) for the users whose plain device seen at
   * the emit has not had a heartbeat since: by then its entry has moved on (it had the event)
   * or expired (a dead node's left-over).
   */
  recheckAt?: number;
}

/** Validates fallback job data read back from Redis; a mismatch is a poison job (no retry). */
export function parseFallbackJob(data: unknown): FallbackJobData {
  const parsed = FallbackJobData.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid_job: ${describeIssues(toFieldIssues(parsed.error, 'data'))}`);
  }
  return parsed.data;
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function forEachBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * Runs the fallback checks of one job, one after another: those of the events of the
 * stream entries a dispatcher delivered within its check linger, each for the users of one
 * event (or slice) that had to ack it, with each user's seq. For each user:
 *
 * - some device acked a seq at or above the event's → nothing (the ack stays, so no mark);
 * - the `fallback-sent` mark is set (read for the others in one MGET) → settled before;
 * - a plain device (one that does not ack) connected at the emit still is, its presence
 *   refreshed since → it had the event, nothing (marked `plain`);
 * - another plain device is online → the event live (late, same payload and meta), no email;
 * - otherwise → one email to `fallback.email`, else to the address remembered from the
 *   user's last connection (at most `SENDS_PER_JOB` sends at once);
 * - with neither → counted as undeliverable and logged, once.
 *
 * Per-user trouble (no address, a failed send) is logged once per job with counts, not
 * once per user (`JobSummaryLog`). Addresses appear only in debug lines: the info line of
 * a sent email names the user and the address's `addressHash`.
 *
 * Every other outcome sets the mark, so a retry touches only the users still unsettled. All
 * users are processed before the job decides: if any send failed, it throws so BullMQ
 * retries it with backoff (the others' emails are neither lost nor repeated); if all
 * are settled but some were undeliverable, it fails for good naming them, so they stay
 * visible in the failed set.
 *
 * At most one email per (event, user): the mark is set once the SMTP server accepted
 * the message. A crash (or lost Redis) between that acceptance and the SET leaves a
 * window in which a retry sends a second copy; it carries the same Message-ID, so mail
 * systems that dedupe on it drop it. Marking before sending would close the window but
 * turn it into a lost email instead.
 */
export async function deliverFallback(data: unknown, deps: DeliverFallbackDeps): Promise<FallbackOutcome> {
  const job = parseFallbackJob(data);
  const summary = new JobSummaryLog(deps.logger);
  // Written however the run ends: the users marked undeliverable by this run are not
  // reported by a retry (it finds them marked), so this is their only line.
  try {
    return await settleJob(job, deps, summary);
  } finally {
    summary.write();
  }
}

async function settleJob(
  job: FallbackJobData,
  deps: DeliverFallbackDeps,
  summary: JobSummaryLog,
): Promise<FallbackOutcome> {
  // Every check runs, each settling its own users, before the job reports: one failing
  // check must not hold back the emails of the others. Retries redo only the unsettled.
  const outcomes: FallbackOutcome[] = [];
  const retryable: unknown[] = [];
  const final: string[] = [];
  for (const check of job.checks) {
    try {
      outcomes.push(await settleCheck(check, deps, summary));
    } catch (error) {
      if (error instanceof UnrecoverableError) final.push(error.message);
      else retryable.push(error);
    }
  }
  if (retryable.length === 1) throw retryable[0];
  if (retryable.length > 1) {
    const first = retryable[0] instanceof Error ? retryable[0].message : String(retryable[0]);
    throw new Error(`${retryable.length} of ${job.checks.length} checks failed; first: ${first}`, {
      cause: retryable[0],
    });
  }
  // One reason per job, not one per check: the reason is logged and kept in Redis, and a
  // job holds up to EVENTS_PER_JOB checks. The summary line has the counts and event ids.
  if (final.length === 1) throw new UnrecoverableError(final[0]);
  if (final.length > 1) {
    throw new UnrecoverableError(
      `${final.length} of ${job.checks.length} checks failed for good; first: ${final[0]}`,
    );
  }
  return sumOutcomes(outcomes);
}

/** Adds up the outcomes of the checks of one job; it runs again when the latest of them wants. */
function sumOutcomes(outcomes: readonly FallbackOutcome[]): FallbackOutcome {
  const sum: FallbackOutcome = { emailed: 0, acked: 0, receivedPlain: 0, deliveredLive: 0, alreadySent: 0 };
  for (const o of outcomes) {
    sum.emailed += o.emailed;
    sum.acked += o.acked;
    sum.receivedPlain += o.receivedPlain;
    sum.deliveredLive += o.deliveredLive;
    sum.alreadySent += o.alreadySent;
    if (o.recheckAt !== undefined) {
      sum.waiting = (sum.waiting ?? 0) + (o.waiting ?? 0);
      sum.recheckAt = Math.max(sum.recheckAt ?? 0, o.recheckAt);
    }
  }
  return sum;
}

async function settleCheck(
  check: FallbackCheck,
  deps: DeliverFallbackDeps,
  summary: JobSummaryLog,
): Promise<FallbackOutcome> {
  const userIds = [...new Set(check.userIds)];
  const base = { eventId: check.eventId, event: check.event };
  const sentKey = (userId: string) => deps.keys.fallbackSent(check.eventId, userId);
  const mark = (userId: string, value: string) =>
    deps.redis.set(sentKey(userId), value, 'PX', deps.markTtlMs);

  // Acked first: some device of the user has everything up to the event's seq. An ack
  // never goes down, so it settles the user for any retry without a mark of its own (at
  // thousands of events a second, a mark per acked pair would fill Redis).
  const seqOf = new Map(check.userIds.map((userId, i) => [userId, check.seqs[i] as number]));
  const ackedSeqs = await readAckedSeqs(deps.redis, deps.keys, userIds);
  const acked = new Set(
    userIds.filter((userId) => (ackedSeqs.get(userId) ?? 0) >= (seqOf.get(userId) as number)),
  );
  if (acked.size > 0)
    deps.logger.debug({ ...base, users: acked.size }, 'acked before the check; no fallback');

  const rest = userIds.filter((userId) => !acked.has(userId));
  const marks = await readMarks(deps, rest, sentKey);
  const unacked: string[] = [];
  const undeliverable: string[] = [];
  let alreadySent = 0;
  rest.forEach((userId, i) => {
    const value = marks[i];
    if (value === null || value === undefined) unacked.push(userId);
    else if (value === MARK_UNDELIVERABLE) undeliverable.push(userId);
    else alreadySent += 1;
  });
  if (alreadySent > 0)
    deps.logger.info({ ...base, users: alreadySent }, 'fallback already sent; nothing to do');

  // A plain device (one that never acks) that was connected at the emit and still is got
  // the event. One online now that was not (or whose entry then was a dead node's
  // left-over, not refreshed since) gets it live now. A user whose devices all ack had
  // the ack timeout to do so.
  const devices = await deps.presence.devicesAmong(unacked);
  const plainAtEmit = check.plainAtEmit ?? {};
  const received = new Set(
    unacked.filter((userId) => keptPlainDevice(plainAtEmit[userId], devices.get(userId))),
  );
  if (received.size > 0) {
    await Promise.all([...received].map((userId) => mark(userId, MARK_RECEIVED)));
    deps.logger.debug({ ...base, users: received.size }, 'a device that does not ack had it; no fallback');
  }
  const online = new Set(
    unacked.filter((userId) => {
      if (received.has(userId)) return false;
      const found = devices.get(userId);
      if (found === undefined) return false;
      return livePlainDevices(plainAtEmit[userId], found) > 0;
    }),
  );
  // Left: a plain device seen at the emit whose entry has neither moved nor expired yet
  // cannot be told from a dead node's left-over (its node has had no heartbeat since);
  // emailing now could double a delivery. Those users wait for the job's next run.
  let recheckAt: number | undefined;
  const waiting = new Set<string>();
  for (const userId of unacked) {
    if (received.has(userId) || online.has(userId)) continue;
    const until = undecidedUntil(plainAtEmit[userId], devices.get(userId));
    if (until === undefined) continue;
    waiting.add(userId);
    recheckAt = Math.max(recheckAt ?? 0, until);
  }
  if (online.size > 0) {
    const live = [...online];
    const emitter = createShardedEmitter(deps.redis, { channelPrefix: deps.keys.socketIoChannelPrefix });
    for (const userId of live) {
      const meta: DeliveryMeta = { id: check.eventId, ts: check.publishedAt, seq: seqOf.get(userId) };
      emitter.to(userRoom(userId)).emit(check.event, check.payload, meta);
    }
    await emitter.send();
    await Promise.all(live.map((userId) => mark(userId, MARK_LIVE)));
    deps.logger.info(
      { ...base, users: live.length, userIds: live.slice(0, NAMED_USERS) },
      'user online on a device that does not ack; delivered live instead of by email',
    );
  }

  const offline = unacked.filter(
    (userId) => !online.has(userId) && !received.has(userId) && !waiting.has(userId),
  );
  const addresses = await Promise.all(
    offline.map(async (userId) => check.fallback.email ?? (await lookupEmail(deps.redis, deps.keys, userId))),
  );
  const sends: Array<{ userId: string; to: string }> = [];
  const noAddress: string[] = [];
  offline.forEach((userId, i) => {
    const to = addresses[i];
    if (to) sends.push({ userId, to });
    else noAddress.push(userId);
  });
  if (noAddress.length > 0) {
    await Promise.all([
      deps.redis.incrby(deps.keys.undeliverable, noAddress.length),
      ...noAddress.map((userId) => mark(userId, MARK_UNDELIVERABLE)),
    ]);
    summary.addNoAddress(check.eventId, noAddress);
    undeliverable.push(...noAddress);
  }

  let content: EmailContent | undefined;
  if (sends.length > 0) {
    try {
      content = renderEmail(deps.templates, check.event, check.payload);
    } catch (error) {
      // A template bug will not fix itself on retry; fail for good and keep the job to look at.
      deps.logger.error({ ...base, err: error }, 'email template failed');
      throw new UnrecoverableError(
        `template_failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const failures: unknown[] = [];
  let emailed = 0;
  await forEachBounded(sends, SENDS_PER_JOB, async ({ userId, to }) => {
    try {
      await deps.mailer.send({
        ...(content as EmailContent),
        to,
        messageId: fallbackMessageId(check.eventId, userId),
        headers: { 'X-Herald-Event': check.event, 'X-Herald-Event-Id': check.eventId },
      });
    } catch (error) {
      failures.push(error);
      summary.addSendFailure(check.eventId, userId, error);
      deps.logger.debug({ ...base, userId, to, err: error }, 'fallback email failed');
      return;
    }
    await mark(userId, String(Date.now()));
    emailed += 1;
    deps.logger.info({ ...base, userId, toHash: addressHash(to) }, 'fallback email sent');
    deps.logger.debug({ ...base, userId, to }, 'fallback email sent to this address');
  });

  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const first = failures[0] instanceof Error ? failures[0].message : String(failures[0]);
    throw new Error(
      `smtp_failed: ${failures.length} of ${sends.length} fallback emails failed; first: ${first}`,
      {
        cause: failures[0],
      },
    );
  }
  if (undeliverable.length > 0) {
    throw new UnrecoverableError(
      `no_address: no email address for user ${namesOf(undeliverable)} (event ${check.eventId})`,
    );
  }
  return {
    emailed,
    acked: acked.size,
    receivedPlain: received.size,
    deliveredLive: online.size,
    alreadySent,
    ...(recheckAt === undefined ? {} : { waiting: waiting.size, recheckAt }),
  };
}

/**
 * Whether one of the plain devices a user had online at the emit is still online, with an
 * entry its node refreshed since (expiry later than then). Such a device was connected when
 * the event went out. An entry whose expiry did not move was not refreshed: its node may
 * have died just before the emit, so it proves nothing (the worst case is a second copy
 * live, never a lost event).
 */
function keptPlainDevice(atEmit: Record<string, number> | undefined, now: UserDevices | undefined): boolean {
  if (atEmit === undefined || now === undefined) return false;
  return Object.entries(atEmit).some(([member, expiry]) => (now.plain[member] ?? 0) > expiry);
}

/**
 * Until when a user's check must wait: while a plain device seen at the emit is still
 * online with the very entry it had then (no heartbeat since), nothing tells whether it is
 * alive. The entry expires at that expiry at the latest; a little after, the answer is known.
 */
function undecidedUntil(
  atEmit: Record<string, number> | undefined,
  now: UserDevices | undefined,
): number | undefined {
  if (atEmit === undefined || now === undefined || keptPlainDevice(atEmit, now)) return undefined;
  const pending = Object.entries(atEmit).filter(([member, expiry]) => now.plain[member] === expiry);
  if (pending.length === 0) return undefined;
  return Math.max(...pending.map(([, expiry]) => expiry)) + RECHECK_MARGIN_MS;
}

/**
 * Plain devices online now, leaving out those seen at the emit whose entry was not refreshed
 * since: most likely a dead node's left-overs, and emitting to them would reach nobody.
 */
function livePlainDevices(atEmit: Record<string, number> | undefined, now: UserDevices): number {
  return Object.entries(now.plain).filter(([member, expiry]) => {
    const then = atEmit?.[member];
    return then === undefined || expiry > then;
  }).length;
}

/**
 * The fallback-sent marks of `userIds`, in order: one MGET per partition, since on Redis
 * Cluster an MGET's keys must share a slot.
 */
async function readMarks(
  deps: Pick<DeliverFallbackDeps, 'redis' | 'keys'>,
  userIds: readonly string[],
  sentKey: (userId: string) => string,
): Promise<Array<string | null>> {
  const marks = new Map<string, string | null>();
  const groups = groupByPartition(deps.keys, userIds, (userId) => userId);
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const found = await deps.redis.mget(group.map(sentKey));
      group.forEach((userId, i) => marks.set(userId, found[i] ?? null));
    }),
  );
  return userIds.map((userId) => marks.get(userId) ?? null);
}
