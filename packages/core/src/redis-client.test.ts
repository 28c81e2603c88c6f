import { describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { HeraldError } from '@herald/contracts';
import { parseEnv, commonEnv } from './config.js';
import { createRedis } from './redis.js';
import { createRedisClient, parseRedisClusterNodes, redisSpecFromEnv } from './redis-client.js';
import { parseRedisUrl } from './redis-url.js';
import { z } from 'zod';

describe('parseRedisClusterNodes', () => {
  it('reads a comma-separated host:port list, spaces and IPv6 brackets allowed', () => {
    expect(parseRedisClusterNodes('10.0.0.1:7000, redis-2.internal:7001,[::1]:7002')).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it.each([
    ['', /at least one host:port/],
    ['10.0.0.1', /'10\.0\.0\.1' is not host:port/],
    ['10.0.0.1:0', /port from 1 to 65535/],
    ['10.0.0.1:65536', /port from 1 to 65535/],
    ['a:7000,redis://b:7001', /'redis:\/\/b:7001' is not host:port/],
  ])('refuses %j with an error naming REDIS_CLUSTER_NODES', (text, detail) => {
    const attempt = () => parseRedisClusterNodes(text);
    expect(attempt).toThrow(HeraldError);
    expect(attempt).toThrow(/^Invalid configuration: REDIS_CLUSTER_NODES: /);
    expect(attempt).toThrow(detail);
  });
});

describe('redisSpecFromEnv', () => {
  it('names a cluster by REDIS_CLUSTER_NODES, else a URL (with its default)', () => {
    expect(redisSpecFromEnv({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toEqual({
      kind: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7000 }],
    });
    expect(redisSpecFromEnv({ REDIS_URL: 'redis://r:6380', REDIS_CLUSTER_NODES: '' })).toEqual({
      kind: 'url',
      url: 'redis://r:6380',
    });
    expect(redisSpecFromEnv({})).toEqual({ kind: 'url', url: 'redis://127.0.0.1:6379' });
  });

  it('refuses both at once, and a URL that is not redis://', () => {
    expect(() => redisSpecFromEnv({ REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'r:7000' })).toThrow(
      /either REDIS_URL .* or REDIS_CLUSTER_NODES .*not both/,
    );
    expect(() => redisSpecFromEnv({ REDIS_URL: 'http://r' })).toThrow(/REDIS_URL: expected a redis:\/\//);
  });
});

describe('redis-cluster:// URLs', () => {
  it('name a cluster by some of its nodes, with optional credentials', () => {
    expect(parseRedisUrl('redis-cluster://10.0.0.1:7000,[::1]:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
      ],
    });
    expect(parseRedisUrl('redis-cluster://app:p%40ss@r:7000')).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'r', port: 7000 }],
      username: 'app',
      password: 'p@ss',
    });
    expect(parseRedisUrl('rediss://r:6380/2')).toEqual({ kind: 'url', url: 'rediss://r:6380/2' });
  });

  it.each([
    ['redis-cluster://', /at least one host:port/],
    ['redis-cluster://r', /'r' is not host:port/],
    ['redis-cluster://r:7000/2', /no database, path or query/],
    ['cluster://r:7000', /expected a redis:\/\/ or rediss:\/\/ URL, or redis-cluster:\/\//],
  ])('refuse %j naming REDIS_URL', (url, detail) => {
    expect(() => parseRedisUrl(url)).toThrow(/^Invalid configuration: REDIS_URL: /);
    expect(() => parseRedisUrl(url)).toThrow(detail);
  });

  it('are what REDIS_CLUSTER_NODES becomes in every app config, and what createRedis opens a Cluster for', () => {
    const schema = z.object(commonEnv);
    const env = parseEnv(schema, { REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' });
    expect(env.REDIS_URL).toBe('redis-cluster://127.0.0.1:7000,127.0.0.1:7001');
    expect(() => parseEnv(schema, { REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'r:7000' })).toThrow(
      /either REDIS_URL .* or REDIS_CLUSTER_NODES .*not both/,
    );
    expect(() => parseEnv(schema, { REDIS_CLUSTER_NODES: 'r' })).toThrow(
      /REDIS_CLUSTER_NODES: 'r' is not host:port/,
    );
    const client = createRedis(env.REDIS_URL, { lazyConnect: true, enableAutoPipelining: true });
    expect(client).toBeInstanceOf(Cluster);
    expect((client as Cluster).options).toMatchObject({
      enableAutoPipelining: true,
      shardedSubscribers: true,
    });
    client.disconnect();
    const single = createRedis('redis://127.0.0.1:1', { lazyConnect: true });
    expect(single).toBeInstanceOf(Redis);
    single.disconnect();
  });
});

describe('createRedisClient', () => {
  it("gives a Cluster createRedis's defaults per node and moves Cluster-level options up", () => {
    const client = createRedisClient(
      { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }] },
      { redis: { lazyConnect: true, enableAutoPipelining: true, connectionName: 'herald-test' } },
    );
    expect(client).toBeInstanceOf(Cluster);
    expect((client as Cluster).options).toMatchObject({
      shardedSubscribers: true,
      lazyConnect: true,
      enableAutoPipelining: true,
      redisOptions: { maxRetriesPerRequest: null, connectionName: 'herald-test' },
    });
    expect((client as Cluster).options.redisOptions).not.toHaveProperty('enableAutoPipelining');
    client.disconnect();
  });

  it('opens a plain Redis for a URL', () => {
    const client = createRedisClient(
      { kind: 'url', url: 'redis://127.0.0.1:1' },
      { redis: { lazyConnect: true } },
    );
    expect(client).toBeInstanceOf(Redis);
    expect(client.options).toMatchObject({ maxRetriesPerRequest: null, lazyConnect: true });
    client.disconnect();
  });
});
