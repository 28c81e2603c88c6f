import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { closeRedis, createRedis } from '@herald/core';
import {
  leakedSecrets,
  pinoLines,
  spawnApp,
  startRedisServer,
  startSmtpSink,
  uniquePrefix,
  uniqueUser,
  waitFor,
  type RedisServerChild,
  randomSecret,
} from '@herald/testing';
import { useCleanup } from './support.js';

/** A fallback job of one check: one event for `userId`, whose email goes to `email`. */
function oneEmailJob(userId: string, email: string, title: string): FallbackJobData {
  return {
    checks: [
      {
        eventId: `evt-${crypto.randomUUID()}`,
        userIds: [userId],
        seqs: [1],
        event: 'notification:new',
        payload: { notification: { title, message: 'hello' } },
        fallback: { channel: 'email', email },
        publishedAt: Date.now(),
      },
    ],
  };
}

describe('fallback-worker logs', () => {
  const defer = useCleanup();
  const redisPassword = randomSecret('redispw');
  let redis: RedisServerChild;

  beforeAll(async () => {
    redis = await startRedisServer({ args: ['--requirepass', redisPassword] });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('at debug level hold neither the SMTP password (accepted or refused) nor the Redis password', async () => {
    const smtpPassword = randomSecret('smtppw');
    const wrongSmtpPassword = randomSecret('wrongsmtppw');
    const sink = await startSmtpSink({ auth: { user: 'mailer', pass: smtpPassword } });
    defer(() => sink.close());
    const prefix = uniquePrefix('secrets');
    const connection = createRedis(redis.url);
    defer(() => closeRedis(connection));
    const queue = new Queue<FallbackJobData>(QueueName.fallback, { connection, prefix });
    defer(() => queue.close());

    /** Runs a worker with `password` in SMTP_URL until one fallback job has settled. */
    const runWorker = async (password: string, settled: RegExp) => {
      const app = spawnApp('fallback-worker', {
        REDIS_URL: redis.url,
        HERALD_REDIS_PREFIX: prefix,
        // debug=true: nodemailer's SMTP transcript (AUTH included) goes to the log too.
        SMTP_URL: `smtp://mailer:${password}@127.0.0.1:${sink.port}?debug=true`,
        HERALD_LOG_LEVEL: 'debug',
      });
      defer(() => app.stop('SIGKILL'));
      await app.waitForOutput(/fallback worker ready/, 30_000);
      const userId = uniqueUser('mail');
      await queue.add('notification:new', oneEmailJob(userId, `${userId}@example.com`, 'Secret-free'));
      await app.waitForOutput(settled);
      expect(await app.stop('SIGTERM')).toBe(0);
      return pinoLines(app.output());
    };

    const sent = await runWorker(smtpPassword, /fallback email sent/);
    await waitFor(() => sink.mails.length === 1, { message: 'the authenticated SMTP server got the mail' });
    // A refused login fails the job (no retries on a job added without attempts): its error is logged.
    const refused = await runWorker(wrongSmtpPassword, /fallback job failed/);
    expect(refused.some((l) => l.includes('EAUTH'))).toBe(true);
    expect(sink.mails).toHaveLength(1);

    // The transcript was there to leak from.
    expect(sent.some((l) => l.includes('"nodemailer"') && l.includes('AUTH'))).toBe(true);
    expect(leakedSecrets([...sent, ...refused], { smtpPassword, wrongSmtpPassword, redisPassword })).toEqual(
      {},
    );
  });

  it('at info level hold no recipient address: sent, refused by the server, or with nodemailer asked to log', async () => {
    const sink = await startSmtpSink();
    defer(() => sink.close());
    const prefix = uniquePrefix('addresses');
    const connection = createRedis(redis.url);
    defer(() => closeRedis(connection));
    const queue = new Queue<FallbackJobData>(QueueName.fallback, { connection, prefix });
    defer(() => queue.close());
    const app = spawnApp('fallback-worker', {
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: prefix,
      // Query parameters nodemailer reads: logger=true would print to stdout past pino.
      SMTP_URL: `${sink.url}?logger=true&debug=true`,
      HERALD_LOG_LEVEL: 'info',
    });
    defer(() => app.stop('SIGKILL'));
    await app.waitForOutput(/fallback worker ready/, 30_000);

    const addresses = { sent: randomAddress('sent'), refused: randomAddress('refused') };
    sink.refuseRecipient(addresses.refused);
    for (const to of Object.values(addresses)) {
      const userId = uniqueUser('mail');
      await queue.add('notification:new', oneEmailJob(userId, to, 'Address-free'));
    }
    await app.waitForOutput(/fallback email sent/);
    await app.waitForOutput(/fallback job failed/);
    expect(await app.stop('SIGTERM')).toBe(0);

    expect(sink.mails).toHaveLength(1);
    // All of stdout and stderr, not only pino's lines: nodemailer's own logger writes plain text.
    const output = app.output().split('\n');
    expect(output.filter((l) => l.includes('Recipient address rejected')).length).toBeGreaterThan(0);
    expect(leakedSecrets(output, addresses)).toEqual({});
  });
});

/** A fresh address, unique enough to search the log for. */
function randomAddress(label: string): string {
  return `${randomSecret(label)}@example.com`;
}
