import { describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { HeraldError } from '@herald/contracts';
import { createRedisClient, parseRedisClusterNodes, redisSpecFromEnv } from './redis-client.js';

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
