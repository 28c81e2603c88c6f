import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { QueueName, type FallbackJobData } from '@herald/contracts';
import { closeRedis, createRedis } from '@herald/core';
import { spawnApp, uniquePrefix, uniqueUser } from '@herald/testing';
import { addressHash } from '../src/index.js';
import { useCleanup } from './support.js';

describe('fallback worker process', () => {
  const defer = useCleanup();

  it('starts from env alone, logs emails when SMTP_URL is unset, and stops cleanly on SIGTERM', async () => {
    const prefix = uniquePrefix('fbmain');
    const redisUrl = inject('redisUrl');
    const app = spawnApp('fallback-worker', {
      REDIS_URL: redisUrl,
      HERALD_REDIS_PREFIX: prefix,
      SMTP_URL: '',
    });
    defer(() => app.stop());
    await app.waitForOutput(/fallback worker ready/, 30_000);

    const redis = createRedis(redisUrl);
    defer(() => closeRedis(redis));
    const queue = new Queue<FallbackJobData>(QueueName.fallback, { connection: redis, prefix });
    defer(() => queue.close());
    const data: FallbackJobData = {
      checks: [
        {
          eventId: `evt-${crypto.randomUUID()}`,
          userIds: [uniqueUser('dev')],
          seqs: [1],
          event: 'notification:new',
          payload: { notification: { title: 'Logged, not sent', message: 'dev mode' } },
          fallback: { channel: 'email', email: 'dev@example.com' },
          publishedAt: Date.now(),
        },
      ],
    };
    await queue.add('notification:new', data);

    await app.waitForOutput(/logged instead of sent/);
    const line = app
      .output()
      .split('\n')
      .find((l) => l.includes('logged instead of sent'));
    const logged = JSON.parse(line!) as { email: { subject: string; toHash: string } };
    expect(logged.email.subject).toBe('Logged, not sent');
    // At info the recipient is its hash: addresses are personal data, written at debug only.
    expect(logged.email.toHash).toBe(addressHash('dev@example.com'));
    expect(app.output()).not.toContain('dev@example.com');

    expect(await app.stop('SIGTERM')).toBe(0);
  });

  it('refuses a bad variable with one line naming it', async () => {
    const app = spawnApp('fallback-worker', {
      REDIS_URL: inject('redisUrl'),
      HERALD_FALLBACK_CONCURRENCY: 'lots',
    });
    defer(() => app.stop());
    const code = await new Promise<number | null>((resolve) => app.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(app.output()).toMatch(/HERALD_FALLBACK_CONCURRENCY: expected an integer/);
  });
});
