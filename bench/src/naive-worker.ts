/**
 * The worker of the naive pipeline: what a team builds from the original module
 * with BullMQ. One job per event; for each job it emits to every listed user's
 * room through `createShardedEmitter` (one SPUBLISH each), and completes once Redis took the
 * SPUBLISHes. No presence check, no fallback, no dedupe: the baseline Herald's
 * extra work is measured against.
 */
import { Worker } from 'bullmq';
import { closeRedis, createKeys, createRedis, createShardedEmitter } from '@herald/core';
import { serveRpc } from './rpc.js';
import { NAIVE_QUEUE, type NaiveJobData } from './naive-job.js';

const redisUrl = process.env.REDIS_URL ?? '';
const prefix = process.env.HERALD_REDIS_PREFIX ?? '{herald}';
// Set by the orchestrator to the dispatcher's concurrency (`DISPATCHER_CONCURRENCY` in stack.ts).
const concurrency = Number(process.env.BENCH_NAIVE_CONCURRENCY);
if (!Number.isInteger(concurrency) || concurrency < 1)
  throw new Error('BENCH_NAIVE_CONCURRENCY must be a positive integer (the orchestrator sets it)');

// Same connection set-up as Herald's dispatcher: one auto-pipelined connection for PUBLISH.
const redis = createRedis(redisUrl, { enableAutoPipelining: true });
const workerRedis = createRedis(redisUrl);
const channelPrefix = createKeys(prefix).socketIoChannelPrefix;

const worker = new Worker<NaiveJobData>(
  NAIVE_QUEUE,
  async (job) => {
    const emitter = createShardedEmitter(redis, { channelPrefix, batching: 'commands' });
    const meta = { id: job.data.id, ts: Date.now() };
    for (const userId of job.data.userIds)
      emitter.to(`user:${userId}`).emit(job.data.event, job.data.payload, meta);
    await emitter.send();
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
