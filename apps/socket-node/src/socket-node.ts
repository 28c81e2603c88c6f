import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import {
  DEFAULT_PRESENCE_TTL_MS,
  PresenceRegistry,
  closeRedis,
  createKeys,
  createNodeId,
  createRedis,
  type Logger,
} from '@herald/core';
import { createAuthenticate } from './authenticate.js';
import { createConnectionHandler } from './connection-handler.js';
import { createHttpRoutes } from './http-routes.js';
import type { HeraldServer } from './types.js';

export interface SocketNodeOptions {
  /** Redis for the adapter, presence and the client-events stream. */
  redisUrl: string;
  /** Key prefix with a hash tag, e.g. `{herald}`; keys come from `createKeys(prefix)`. */
  prefix: string;
  /** HS256 secret access tokens are signed with. */
  jwtSecret: string;
  /** TCP port; 0 picks any free port (read it back from `SocketNode.port`). @default 3000 */
  port?: number;
  /** @default '0.0.0.0' */
  host?: string;
  /** Socket.IO path. @default '/socket.io/' */
  wsPath?: string;
  /** Browser origins allowed cross-origin, matched exactly (`https://app.example.com`). @default [] (none) */
  corsOrigins?: string[];
  /** Names this node's presence entries. @default createNodeId() */
  nodeId?: string;
  /** Presence entry lifetime without a heartbeat; heartbeats run every third of it. @default 20_000 */
  presenceTtlMs?: number;
  /** pino logger; the node logs through a child `{ component: 'socket-node' }`. */
  logger: Logger;
  /** Extra HTTP routes on the same port (publish API, demo page in the local stack). Resolves true when it handled the request. */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

export interface SocketNode {
  io: HeraldServer;
  httpServer: http.Server;
  /** The port actually listened on (useful with `port: 0`). */
  port: number;
  nodeId: string;
  presence: PresenceRegistry;
  /** Stops accepting, drops this node's presence, disconnects its sockets and closes Redis. Idempotent. */
  close(): Promise<void>;
}

/** How long a readiness probe waits for PING before calling Redis unreachable. */
const READY_PING_TIMEOUT_MS = 1_000;
/** Shutdown steps that need Redis give up after this, so SIGTERM still ends within 10 s when Redis is gone. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function checkOptions(options: SocketNodeOptions): void {
  const port = options.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`SocketNodeOptions.port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!options.jwtSecret) throw new RangeError('SocketNodeOptions.jwtSecret must not be empty');
  const wsPath = options.wsPath ?? '/socket.io/';
  if (!wsPath.startsWith('/'))
    throw new RangeError(`SocketNodeOptions.wsPath must start with "/", got ${wsPath}`);
  for (const origin of options.corsOrigins ?? []) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new RangeError(
        `SocketNodeOptions.corsOrigins: "${origin}" is not an exact origin such as https://app.example.com`,
      );
    }
  }
}

/**
 * Starts a socket node: Socket.IO (websocket + polling) behind JWT, joined to the
 * other nodes through the Redis adapter, with presence, client events and health
 * routes on the same HTTP port. Resolves once Redis answers and it listens (it waits for Redis,
 * logging each failed attempt, rather than accept devices it could not deliver to).
 *
 * @example
 * const node = await startSocketNode({ redisUrl, prefix: '{herald}', jwtSecret, logger });
 * // …
 * await node.close();
 */
export async function startSocketNode(options: SocketNodeOptions): Promise<SocketNode> {
  checkOptions(options);
  const nodeId = options.nodeId ?? createNodeId();
  const wsPath = options.wsPath ?? '/socket.io/';
  const host = options.host ?? '0.0.0.0';
  const log = options.logger.child({ component: 'socket-node', nodeId });
  const keys = createKeys(options.prefix);

  // One connection for commands and the adapter's PUBLISH, one in subscriber mode.
  const redis: Redis = createRedis(options.redisUrl);
  const sub: Redis = redis.duplicate();
  const onRedisError = (error: Error) => log.warn({ err: error }, 'redis connection error');
  redis.on('error', onRedisError);
  sub.on('error', onRedisError);

  const presence = new PresenceRegistry({
    redis,
    keys,
    nodeId,
    ttlMs: options.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
  });

  let closing = false;
  const isClosing = () => closing;

  const isReady = async (): Promise<boolean> => {
    if (closing || redis.status !== 'ready' || sub.status !== 'ready') return false;
    return (await withTimeout(redis.ping(), READY_PING_TIMEOUT_MS, 'PING')) === 'PONG';
  };

  const httpServer = http.createServer(
    createHttpRoutes({ isReady, httpHandler: options.httpHandler, logger: log }),
  );
  const io: HeraldServer = new Server(httpServer, {
    path: wsPath,
    transports: ['polling', 'websocket'],
    serveClient: false,
    cors: { origin: options.corsOrigins ?? [], methods: ['GET', 'POST'], credentials: true },
    // Classic (not sharded) pub/sub: @socket.io/redis-emitter only speaks PUBLISH.
    adapter: createAdapter(redis, sub, { key: keys.socketIoChannel }),
  });
  io.of('/').adapter.on('error', (error: unknown) => log.error({ err: error }, 'socket.io adapter error'));
  io.use(createAuthenticate({ jwtSecret: options.jwtSecret, logger: log, isClosing }));
  io.on('connection', createConnectionHandler({ redis, keys, nodeId, presence, logger: log, isClosing }));
  presence.startHeartbeat((error) => log.warn({ err: error }, 'presence heartbeat failed'));

  const closeRedisConnections = async () => {
    await Promise.all(
      [redis, sub].map(async (connection) => {
        // QUIT would wait in the offline queue forever while Redis is unreachable.
        if (connection.status !== 'ready') connection.disconnect();
        else
          await withTimeout(closeRedis(connection), CLOSE_STEP_TIMEOUT_MS, 'QUIT').catch(() =>
            connection.disconnect(),
          );
      }),
    );
  };

  try {
    // Listen only once Redis answers and the adapter's subscriptions are in place (PING on the
    // subscriber is queued behind them): a device accepted earlier would look online in
    // presence yet miss what is emitted to it. ioredis keeps retrying while Redis is away.
    await Promise.all([redis.ping(), sub.ping()]);
    httpServer.listen(options.port ?? 3000, host);
    await once(httpServer, 'listening');
  } catch (error) {
    presence.stopHeartbeat();
    await io.close().catch(() => undefined);
    await closeRedisConnections();
    throw error;
  }
  const port = (httpServer.address() as AddressInfo).port;
  log.info(
    { port, host, wsPath, presenceTtlMs: presence.ttlMs },
    `listening on http://${host}:${port}${wsPath}`,
  );

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing = true;
    // Stop accepting first: the listening socket closes, new handshakes on open connections are refused.
    const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    // Clear presence in one pipeline before disconnecting, so users look offline at once
    // and the disconnect handlers need not each write to Redis.
    await withTimeout(presence.clearLocal(), CLOSE_STEP_TIMEOUT_MS, 'clearing presence').catch(
      (error: unknown) => log.warn({ err: error }, 'could not clear presence; entries expire by themselves'),
    );
    await io.close();
    // Requests of the embedder's routes get a moment to finish, then are cut.
    await withTimeout(httpClosed, CLOSE_STEP_TIMEOUT_MS, 'closing http').catch(() =>
      httpServer.closeAllConnections(),
    );
    await closeRedisConnections();
    log.info('closed');
  };

  return {
    io,
    httpServer,
    port,
    nodeId,
    presence,
    close: () => (closed ??= close()),
  };
}
