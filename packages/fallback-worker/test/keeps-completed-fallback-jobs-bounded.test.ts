import { Queue } from 'bullmq';
import { describe, expect, inject, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { closeRedis, createKeys, createRedis, silentLogger } from '@herald/core';
import { toFallbackJob } from '@herald/dispatcher';
import { startSmtpSink, uniquePrefix, uniqueUser, waitFor } from '@herald/testing';
import { startFallbackWorker } from '../src/index.js';
import { keyCensus, usedMemory } from './redis-memory.js';
import { notification, useCleanup } from './support.js';

/** More fallback jobs than the completed ones kept, so the bound has to act. */
const JOBS = 1_500;
/** The completed fallback jobs BullMQ keeps (`removeOnComplete.count` in the dispatcher's job options). */
const KEPT_COMPLETED = 1_000;

describe('completed fallback jobs', () => {
  const defer = useCleanup();

  it(`keeps at most ${KEPT_COMPLETED} however many ran, and reports the bytes they and the marks take`, async () => {
    const redisUrl = inject('redisUrl');
    const prefix = uniquePrefix('fbmem');
    const keys = createKeys(prefix);
    const redis = createRedis(redisUrl);
    defer(() => closeRedis(redis));
    const sink = await startSmtpSink();
    defer(() => sink.close());
    const worker = await startFallbackWorker({
      redisUrl,
      prefix,
      logger: silentLogger(),
      // Pooled SMTP connections: the test is about what Redis keeps, not about SMTP handshakes.
      smtpUrl: `${sink.url}?pool=true`,
      concurrency: 8,
    });
    defer(() => worker.close());
    const queue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => queue.close());

    const memoryBefore = await usedMemory(redis);
    // One check per job, for one offline user with an address: each job sends one email
    // and leaves one fallback-sent mark. The jobs carry the options the dispatcher gives
    // them (`toFallbackJob`), so their retention is the dispatcher's.
    const jobs = Array.from({ length: JOBS }, (_, i) => {
      const eventId = `evt-${i}-${crypto.randomUUID()}`;
      const userId = uniqueUser('mem');
      const fallback = { channel: 'email' as const, email: `${userId}@example.com` };
      const item = {
        eventId,
        event: 'notification:new',
        payload: notification(`Report ${i} is ready`),
        target: { kind: 'users' as const, userIds: [userId] },
        fallback,
        publishedAt: Date.now(),
        part: { index: 0, count: 1 },
      };
      return toFallbackJob([{ item, fallback, users: [{ userId, seq: 1 }] }], {
        delayMs: 0,
        attempts: 8,
        backoffMs: 1_000,
      });
    });
    for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));

    await waitFor(() => sink.mails.length >= JOBS, { timeoutMs: 45_000, message: `${JOBS} emails sent` });
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'failed');
        return Object.values(counts).every((n) => n === 0);
      },
      { message: 'every fallback job settled' },
    );
    const memoryAfter = await usedMemory(redis);

    const jobHashes = await keyCensus(redis, `${prefix}:${QueueName.fallback}:fbp-*`);
    const queueKeys = await keyCensus(redis, `${prefix}:${QueueName.fallback}:*`);
    const marks = await keyCensus(redis, keys.fallbackSentPattern);
    const completed = await queue.getCompletedCount();
    const markTtlMs = await redis.pttl(
      keys.fallbackSent(jobs[0]!.data.checks[0]!.eventId, jobs[0]!.data.checks[0]!.userIds[0]!),
    );
    const line = (text: string) => process.stdout.write(`[fallback memory] ${text}\n`);
    line(
      `${JOBS} fallback jobs (one check, one email each): ${completed} completed jobs kept, ` +
        `${jobHashes.count} job hashes of ${jobHashes.bytes} B (${Math.round(jobHashes.bytes / Math.max(1, jobHashes.count))} B each); ` +
        `the whole fallback queue ${queueKeys.count} keys, ${queueKeys.bytes} B ` +
        `(${Math.round(queueKeys.bytes / Math.max(1, completed))} B per completed job kept)`,
    );
    line(
      `fallback-sent marks: ${marks.count}, ${marks.bytes} B (${Math.round(marks.bytes / Math.max(1, marks.count))} B each), ` +
        `the first with ${(markTtlMs / 1000).toFixed(1)} s to live; ` +
        `used_memory ${memoryBefore} → ${memoryAfter} (${memoryAfter - memoryBefore} B; the whole server, other tests included)`,
    );

    expect(sink.mails).toHaveLength(JOBS);
    expect(marks.count).toBe(JOBS);
    expect(completed).toBe(KEPT_COMPLETED);
    expect(jobHashes.count).toBe(KEPT_COMPLETED);
  });
});
