import { Queue } from 'bullmq';
import { QueueName, type EventEntryData } from '@herald/contracts';
import { closeRedis, createRedis, silentLogger, type Redis } from '@herald/core';
import { createPublisher, type Publisher } from '@herald/publisher';
import { uniquePrefix } from '@herald/testing';
import { startPublishApi, type PublishApi, type StartPublishApiOptions } from '../src/index.js';

export const API_KEY = 'test-api-key-0123456789';

/** A publish API on a free port with its own prefix, plus what a test needs to look behind it. */
export interface ApiHarness {
  url: string;
  prefix: string;
  api: PublishApi;
  publisher: Publisher;
  redis: Redis;
  queue: Queue<EventEntryData>;
  /** fetch against the API with the right key unless `headers` say otherwise. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Jobs in any state on the events queue. */
  totalJobs(): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(
  redisUrl: string,
  options: Partial<Omit<StartPublishApiOptions, 'publisher'>> = {},
): Promise<ApiHarness> {
  const prefix = uniquePrefix('api');
  const publisher = createPublisher({ redisUrl, prefix });
  const api = await startPublishApi({
    publisher,
    apiKey: API_KEY,
    logger: silentLogger(),
    host: '127.0.0.1',
    port: 0,
    ...options,
  });
  const redis = createRedis(redisUrl);
  const queue = new Queue<EventEntryData>(QueueName.events, { connection: redis, prefix });
  const url = `http://127.0.0.1:${api.port}`;
  return {
    url,
    prefix,
    api,
    publisher,
    redis,
    queue,
    request: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...init.headers },
      }),
    async totalJobs() {
      const counts = await queue.getJobCounts();
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    async close() {
      await api.close();
      await publisher.close();
      await queue.close();
      await closeRedis(redis);
    },
  };
}
