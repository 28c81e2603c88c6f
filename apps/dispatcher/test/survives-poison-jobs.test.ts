import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QueueName } from '@herald/contracts';
import { createKeys, createLogger, defineInboxCommands, queueSequencing } from '@herald/core';
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
      { events: [{ eventId: 'bad-1', event: 'notification:new', target: { kind: 'users', userIds: [] } }] },
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
    expect(failed?.failedReason).toContain('data.events.0.target.userIds');
    expect(failed?.failedReason).toContain('data.events.0.publishedAt');

    const logged = await waitFor(() =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.jobId === poison.id),
    );
    expect(logged.msg).toContain('poison');
    expect(logged.eventIds).toEqual(['bad-1']);
  });

  it('delivers the valid events of a batch with a bad item, then fails that job for good naming the item', async () => {
    const { urls, publisher, prefix, redis } = await startStack(defer, { nodes: 1 });
    const user = uniqueUser('pb');
    const d = await device(urls[0] as string, defer, { token: mintToken(user) });
    const good = (eventId: string) => ({
      eventId,
      event: 'notification:new',
      payload: { notification: { title: eventId } },
      target: { kind: 'users', userIds: [user] },
      fallback: null,
      publishedAt: Date.now(),
      part: { index: 0, count: 1 },
    });
    const events = new Queue(QueueName.events, { connection: redis, prefix });
    defer(() => events.close());
    // Sequenced as the publisher does, under the job's id, item by item in the job's order;
    // the invalid item gets no user (no seq, no inbox entry) but keeps its place.
    const jobId = `poison-${user}`;
    defineInboxCommands(redis);
    const multi = redis.multi();
    queueSequencing(
      multi,
      createKeys(prefix),
      jobId,
      ['ok-1', 'bad-2', 'ok-3'].map((eventId) => ({
        ...good(eventId),
        part: 0,
        userIds: eventId.startsWith('ok') ? [user] : [],
      })),
      { inboxMax: 10, inboxTtlS: 60 },
    );
    await multi.exec();
    const batch = await events.add(
      'batch',
      { events: [good('ok-1'), { ...good('bad-2'), event: 'disconnect' }, good('ok-3')] },
      { jobId, attempts: 5, backoff: { type: 'fixed', delay: 60_000 } },
    );
    const notJob = await events.add('x', { events: 'nope' }, { attempts: 5 });

    await waitFor(() => d.payloads('notification:new').length === 2, { message: 'valid items delivered' });
    expect(published(d).map((r) => (r.args[1] as { id: string }).id)).toEqual(['ok-1', 'ok-3']);
    for (const job of [batch, notJob]) {
      await waitFor(async () => (await events.getJobState(job.id as string)) === 'failed', {
        message: 'job failed',
      });
    }
    const failed = await events.getJob(batch.id as string);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toBe(
      'invalid_job: data.events.1.event: "disconnect" is reserved by Socket.IO',
    );
    expect((await events.getJob(notJob.id as string))?.failedReason).toMatch(/^invalid_job: data: expected/);

    // The queue keeps flowing.
    const id = await publisher.toUser(user).emit('notification:new', { notification: { title: 'after' } });
    await waitFor(() => d.payloads('notification:new').length === 3, { message: 'later event delivered' });
    expect(published(d)[2]?.args[1]).toMatchObject({ id });
  });
});
