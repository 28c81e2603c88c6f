import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { createLogger } from '@herald/core';
import { mintToken, uniqueUser, waitFor } from '@herald/testing';
import { device, published, startStack, useCleanup } from './support.js';

describe('poison jobs', () => {
  const defer = useCleanup();

  it('moves a job with bad data to the failed set at once, logs it, and keeps delivering', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      name: 'test',
      destination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString('utf8'));
          callback();
        },
      }),
    });
    const { urls, publisher, prefix, redis } = await startStack(defer, {
      nodes: 1,
      logger,
      // One job at a time: the valid event can only be delivered if the poison job got out of its way.
      dispatcherOptions: { concurrency: 1 },
    });
    const user = uniqueUser('p');
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });

    const events = new Queue(QueueName.events, { connection: redis, prefix });
    defer(() => events.close());
    // Several attempts with backoff: only an unrecoverable failure ends in the failed set right away.
    const poison = await events.add(
      'notification:new',
      { v: 1, eventId: 'bad-1', event: 'notification:new', target: { kind: 'users', userIds: [] } },
      { attempts: 5, backoff: { type: 'fixed', delay: 60_000 } },
    );
    const id = await publisher
      .toUser(user)
      .emit('notification:new', { notification: { title: 'Still here' } });

    await waitFor(() => d.payloads('notification:new').length === 1, { message: 'valid event delivered' });
    expect(published(d)[0]?.args[1]).toMatchObject({ id });

    await waitFor(async () => (await events.getJobState(poison.id as string)) === 'failed', {
      message: 'poison job failed',
    });
    const failed = await events.getJob(poison.id as string);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/^invalid_job: /);
    expect(failed?.failedReason).toContain('data.target.userIds');
    expect(failed?.failedReason).toContain('data.publishedAt');

    const logged = await waitFor(() =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.jobId === poison.id),
    );
    expect(logged.msg).toContain('poison');
    expect(logged.eventId).toBe('bad-1');
  });
});
