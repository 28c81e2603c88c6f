/**
 * The worker of the naive pipeline: what a team builds from the original module
 * with BullMQ. One job per event; for each job it emits to every listed user's
 * room through `@socket.io/redis-emitter`, and completes once Redis took the
 * PUBLISHes. No presence check, no fallback, no dedupe: the baseline Herald's
 * extra work is measured against.
 */
import { Emitter } from '@socket.io/redis-emitter';
import { Worker } from 'bullmq';
import { Redis, closeRedis, createKeys, createRedis, trackPublishes } from '@herald/core';
import { serveRpc } from './rpc.js';
import { NAIVE_QUEUE, type NaiveJobData } from './naive-job.js';

const redisUrl = process.env.REDIS_URL ?? '';
const prefix = process.env.HERALD_REDIS_PREFIX ?? '{herald}';
const concurrency = Number(process.env.BENCH_NAIVE_CONCURRENCY ?? 4);

// Same connection set-up as Herald's dispatcher: one auto-pipelined connection for PUBLISH.
// The bench runs on one Redis, so this is a plain `Redis` (createRedis may give a Cluster).
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
const workerRedis = createRedis(redisUrl);
const channel = createKeys(prefix).socketIoChannel;

const worker = new Worker<NaiveJobData>(
  NAIVE_QUEUE,
  async (job) => {
    const tracker = trackPublishes(redis);
    const emitter = new Emitter(tracker.client, { key: channel });
    const meta = { id: job.data.id, ts: Date.now() };
    for (const userId of job.data.userIds)
      emitter.to(`user:${userId}`).emit(job.data.event, job.data.payload, meta);
    await tracker.settled();
  },
  { connection: workerRedis, prefix, concurrency },
);
worker.on('error', (error) => process.stderr.write(`naive worker error: ${error.message}\n`));
await worker.waitUntilReady();

let closing: Promise<void> | undefined;
const shutdown = () => {
  closing ??= (async () => {
    await worker.close();
    await Promise.all([closeRedis(redis), closeRedis(workerRedis)]);
  })().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
serveRpc({}, shutdown);
