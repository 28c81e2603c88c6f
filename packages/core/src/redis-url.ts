import { z } from 'zod';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** Where Herald's Redis is: one server by URL, or a cluster by some of its nodes (ioredis discovers the rest). */
export type RedisConnectionSpec =
  | { kind: 'url'; url: string }
  | { kind: 'cluster'; nodes: RedisNodeAddress[]; username?: string; password?: string };

/** The scheme of a Redis Cluster location: `redis-cluster://host:port,host:port,…`. */
export const REDIS_CLUSTER_SCHEME = 'redis-cluster://';

const HOST_PORT = /^(?<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/;

/** Parses a `host:port,…` list; the issue text names the bad item. */
function readNodes(text: string, ctx: z.RefinementCtx): RedisNodeAddress[] | undefined {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected at least one host:port' });
    return undefined;
  }
  const nodes: RedisNodeAddress[] = [];
  for (const item of items) {
    const match = HOST_PORT.exec(item);
    const port = Number(match?.groups?.port);
    if (!match?.groups?.host || !Number.isInteger(port) || port < 1 || port > 65_535) {
      ctx.addIssue({
        code: 'custom',
        message: `'${item}' is not host:port with a port from 1 to 65535 (expected e.g. 10.0.0.1:7000,10.0.0.2:7000)`,
      });
      return undefined;
    }
    nodes.push({ host: match.groups.host.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return nodes;
}

/**
 * `REDIS_CLUSTER_NODES`: a comma-separated `host:port` list of cluster nodes
 * (`10.0.0.1:7000,10.0.0.2:7000`; IPv6 in brackets, `[::1]:7000`). Any one that answers is
 * enough to discover the rest; list several so start-up survives one being down.
 */
export const envRedisClusterNodes = z.string().transform((text, ctx) => readNodes(text, ctx) ?? z.NEVER);

/** Parses a `REDIS_CLUSTER_NODES` value; throws `invalid_config` naming the variable and the bad item. */
export function parseRedisClusterNodes(text: string): RedisNodeAddress[] {
  const result = envRedisClusterNodes.safeParse(text);
  if (result.success) return result.data;
  const message = result.error.issues.map((issue) => issue.message).join('; ');
  throw new HeraldError(
    HeraldErrorCode.invalidConfig,
    `Invalid configuration: REDIS_CLUSTER_NODES: ${message}`,
    {
      issues: [{ path: 'REDIS_CLUSTER_NODES', message }],
    },
  );
}

const CLUSTER_URL =
  /^redis-cluster:\/\/(?:(?<user>[^:@/]*)(?::(?<password>[^@/]*))?@)?(?<nodes>[^@/?#]*)\/?$/;

/**
 * Reads a Redis location: `redis://` or `rediss://` for one Redis (ioredis parses the rest),
 * `redis-cluster://[user[:password]@]host:port,host:port,…` for a Redis Cluster by some of its
 * nodes. Issues go to `ctx`.
 */
function readRedisLocation(text: string, ctx: z.RefinementCtx): RedisConnectionSpec | undefined {
  if (/^rediss?:\/\//.test(text)) return { kind: 'url', url: text };
  if (!text.startsWith(REDIS_CLUSTER_SCHEME)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected a redis:// or rediss:// URL, or redis-cluster://host:port,host:port,… for a Redis Cluster',
    });
    return undefined;
  }
  const groups = CLUSTER_URL.exec(text)?.groups;
  if (groups === undefined) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected redis-cluster://[user[:password]@]host:port,host:port,… (no database, path or query)',
    });
    return undefined;
  }
  const nodes = readNodes(groups.nodes ?? '', ctx);
  if (nodes === undefined) return undefined;
  const spec: RedisConnectionSpec = { kind: 'cluster', nodes };
  if (groups.user) spec.username = decodeURIComponent(groups.user);
  if (groups.password !== undefined) spec.password = decodeURIComponent(groups.password);
  return spec;
}

/**
 * `REDIS_URL`: `redis://…` / `rediss://…` (one Redis), or `redis-cluster://host:port,…` (a
 * Redis Cluster). The value stays the string, so it can be handed on to other processes as is.
 */
export const envRedisUrl = z.string().superRefine((text, ctx) => {
  readRedisLocation(text, ctx);
});

/** The connection spec of a `REDIS_URL` value; throws `invalid_config` naming what is wrong. */
export function parseRedisUrl(url: string): RedisConnectionSpec {
  const result = z
    .string()
    .transform((text, ctx) => readRedisLocation(text, ctx) ?? z.NEVER)
    .safeParse(url);
  if (result.success) return result.data;
  const message = result.error.issues.map((issue) => issue.message).join('; ');
  throw new HeraldError(HeraldErrorCode.invalidConfig, `Invalid configuration: REDIS_URL: ${message}`, {
    issues: [{ path: 'REDIS_URL', message }],
  });
}

/**
 * Maps `REDIS_CLUSTER_NODES` onto `REDIS_URL` (`redis-cluster://…`), so every process and
 * everything it hands `REDIS_URL` to reads one variable. Both set is refused rather than one
 * silently winning. Empty values count as unset, as in `parseEnv`. Returns a new env.
 */
export function withClusterNodesAsUrl(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  if (!nodes) return env;
  if (env.REDIS_URL?.trim()) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'Invalid configuration: set either REDIS_URL (one Redis, or redis-cluster://…) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
      { issues: [{ path: 'REDIS_CLUSTER_NODES', message: 'REDIS_URL is set too' }] },
    );
  }
  const parsed = parseRedisClusterNodes(nodes);
  const list = parsed.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`);
  const { REDIS_CLUSTER_NODES: _nodes, ...rest } = env;
  return { ...rest, REDIS_URL: `${REDIS_CLUSTER_SCHEME}${list.join(',')}` };
}
