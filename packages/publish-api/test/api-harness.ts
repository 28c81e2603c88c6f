import { EventEntryData, type EventItem } from '@herald/contracts';
import {
  closeRedis,
  createKeys,
  createRedis,
  readStreamEntries,
  silentLogger,
  type RedisClient,
} from '@herald/core';
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
  redis: RedisClient;
  /** Every event item in the partition streams (a `toUsers` has one per partition it spans), by partition. */
  events(): Promise<EventItem[]>;
  /** fetch against the API with the right key unless `headers` say otherwise. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Entries in the partition streams. */
  totalEntries(): Promise<number>;
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
  const keys = createKeys(prefix);
  const url = `http://127.0.0.1:${api.port}`;
  return {
    url,
    prefix,
    api,
    publisher,
    redis,
    async events() {
      return (await readStreamEntries(redis, keys)).flatMap(
        ({ fields }) => EventEntryData.parse({ events: JSON.parse(fields.events ?? 'null') }).events,
      );
    },
    request: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...init.headers },
      }),
    async totalEntries() {
      return (await readStreamEntries(redis, keys)).length;
    },
    async close() {
      await api.close();
      await publisher.close();
      await closeRedis(redis);
    },
  };
}
