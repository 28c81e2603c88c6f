import { z } from 'zod';
import { HeraldError, HeraldErrorCode, formatPath } from '@herald/contracts';
import { DEFAULT_REDIS_TIMEOUT_MS } from './redis-deadline.js';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS } from './keys.js';
import { envRedisUrl, withClusterNodesAsUrl } from './redis-url.js';
import { MAX_WAIT_REPLICAS } from './wait-replicas.js';

export { envRedisUrl } from './redis-url.js';

/**
 * Parses environment variables with a zod schema. On failure throws one
 * `invalid_config` error whose message names every bad variable and what it expected.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // Empty strings mean "unset" (docker-compose and .env files write them for blank values).
  // REDIS_CLUSTER_NODES is another spelling of REDIS_URL=redis-cluster://…, so schemas read one.
  const cleaned = Object.fromEntries(
    Object.entries(withClusterNodesAsUrl(env)).filter(([, v]) => v !== undefined && v !== ''),
  );
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: formatPath('', issue.path),
    message: issue.message,
  }));
  const text = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new HeraldError(HeraldErrorCode.invalidConfig, `Invalid configuration: ${text}`, { issues });
}

/**
 * Like `parseEnv`, but for a process's start-up: a bad value prints one line
 * naming the variable to stderr and exits 1, instead of a stack trace.
 */
export function loadConfigOrExit<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (error instanceof HeraldError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Env values are strings; these turn them into checked numbers and lists. */
export const envInt = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected an integer' })
    .int('expected an integer')
    .min(min, `expected an integer >= ${min}`)
    .max(max, `expected an integer <= ${max}`);

export const envPort = envInt(0, 65_535);

export const envList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/**
 * Key prefix for everything Herald stores. Braces make it a Redis Cluster hash
 * tag, so every key (and BullMQ's) lands in one slot and multi-key scripts work.
 */
export const envPrefix = z
  .string()
  .regex(/^\{[A-Za-z0-9_.-]+\}$/, 'expected a hash-tagged prefix such as {herald}');

export const envLogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Variables every Herald process reads. */
/**
 * The inbox bounds, read by every process that publishes (the publisher appends to
 * inboxes as it enqueues): `HERALD_INBOX_MAX` events per user, kept `HERALD_INBOX_TTL_S`
 * seconds after the last append; and how many replicas must have an append before its
 * publish resolves (`HERALD_PUBLISH_WAIT_REPLICAS`).
 */
export const inboxEnv = {
  HERALD_INBOX_MAX: envInt(1, 100_000).default(500),
  HERALD_INBOX_TTL_S: envInt(1, 30 * 86_400).default(86_400),
  /** Replicas that must have each appended entry before its publish resolves (`WAIT`); 0: asynchronous replication. */
  HERALD_PUBLISH_WAIT_REPLICAS: envInt(0, MAX_WAIT_REPLICAS).default(0),
};

export const commonEnv = {
  REDIS_URL: envRedisUrl.default('redis://127.0.0.1:6379'),
  /** How long a request waits for Redis before it is answered `unavailable` (503). */
  HERALD_REDIS_TIMEOUT_MS: envInt(50, 60_000).default(DEFAULT_REDIS_TIMEOUT_MS),
  HERALD_REDIS_PREFIX: envPrefix.default('{herald}'),
  /** Partitions user ids are spread over; the same in every process (checked against Redis at start). */
  HERALD_PARTITIONS: envInt(1, MAX_PARTITIONS).default(DEFAULT_PARTITIONS),
  HERALD_LOG_LEVEL: envLogLevel.default('info'),
};
