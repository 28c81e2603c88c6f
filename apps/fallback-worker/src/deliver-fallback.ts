import { Emitter } from '@socket.io/redis-emitter';
import { UnrecoverableError } from 'bullmq';
import { FallbackJobData, describeIssues, toFieldIssues, type DeliveryMeta } from '@herald/contracts';
import {
  lookupEmail,
  trackPublishes,
  type Logger,
  type PresenceReader,
  type Redis,
  type RedisKeys,
} from '@herald/core';
import { renderEmail, type EmailTemplate } from './email-templates.js';
import { fallbackMessageId, type Mailer } from './mailer.js';

/** How long the "fallback sent" mark outlives the send: longer than any retry schedule. */
export const FALLBACK_SENT_TTL_S = 7 * 24 * 3_600;

export interface DeliverFallbackDeps {
  redis: Redis;
  keys: RedisKeys;
  presence: PresenceReader;
  mailer: Mailer;
  templates: Record<string, EmailTemplate>;
  logger: Logger;
}

/** What one fallback job did, kept as the job's return value. */
export type FallbackOutcome =
  { outcome: 'already_sent' } | { outcome: 'delivered_live' } | { outcome: 'emailed'; to: string };

/** Validates fallback job data read back from Redis; a mismatch is a poison job (no retry). */
export function parseFallbackJob(data: unknown): FallbackJobData {
  const parsed = FallbackJobData.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid_job: ${describeIssues(toFieldIssues(parsed.error, 'data'))}`);
  }
  return parsed.data;
}

/**
 * Runs one fallback check. A user who came online during the grace period gets the
 * event live (late, same payload and meta) and no email. Otherwise the event is
 * emailed once to `fallback.email`, else to the address remembered from the user's
 * last connection; with neither, the job fails for good (counted as undeliverable).
 *
 * At most one email per (event, user): the `fallback-sent` mark is checked first and
 * set once the SMTP server accepted the message. A crash (or lost Redis) between
 * that acceptance and the SET leaves a window in which a retry sends a second copy;
 * it carries the same Message-ID, so mail systems that dedupe on it drop it. Marking
 * before sending would close the window but turn it into a lost email instead.
 */
export async function deliverFallback(data: unknown, deps: DeliverFallbackDeps): Promise<FallbackOutcome> {
  const job = parseFallbackJob(data);
  const context = { eventId: job.eventId, userId: job.userId, event: job.event };
  const sentKey = deps.keys.fallbackSent(job.eventId, job.userId);
  if ((await deps.redis.exists(sentKey)) === 1) {
    deps.logger.info(context, 'fallback already sent; nothing to do');
    return { outcome: 'already_sent' };
  }

  if (await deps.presence.isOnline(job.userId)) {
    const tracker = trackPublishes(deps.redis);
    const meta: DeliveryMeta = {
      id: job.eventId,
      ts: job.publishedAt,
      ...(job.seq === undefined ? {} : { seq: job.seq }),
    };
    new Emitter(tracker.client, { key: deps.keys.socketIoChannel })
      .to(`user:${job.userId}`)
      .emit(job.event, job.payload, meta);
    await tracker.settled();
    deps.logger.info(context, 'user came online during the grace period; delivered live instead of by email');
    return { outcome: 'delivered_live' };
  }

  const to = job.fallback.email ?? (await lookupEmail(deps.redis, deps.keys, job.userId));
  if (!to) {
    await deps.redis.incr(deps.keys.undeliverable);
    deps.logger.error(
      context,
      'fallback undeliverable: no email address for this user (none in the event, none seen on connect)',
    );
    throw new UnrecoverableError(
      `no_address: no email address for user ${job.userId} (event ${job.eventId})`,
    );
  }

  let content;
  try {
    content = renderEmail(deps.templates, job.event, job.payload);
  } catch (error) {
    // A template bug will not fix itself on retry; fail for good and keep the job to look at.
    deps.logger.error({ ...context, err: error }, 'email template failed');
    throw new UnrecoverableError(
      `template_failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }

  // An SMTP failure throws from here; BullMQ retries with the job's backoff.
  await deps.mailer.send({
    ...content,
    to,
    messageId: fallbackMessageId(job.eventId, job.userId),
    headers: { 'X-Herald-Event': job.event, 'X-Herald-Event-Id': job.eventId },
  });
  await deps.redis.set(sentKey, String(Date.now()), 'EX', FALLBACK_SENT_TTL_S);
  deps.logger.info({ ...context, to }, 'fallback email sent');
  return { outcome: 'emailed', to };
}
