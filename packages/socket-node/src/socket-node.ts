import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { RedisClient } from '@herald/core';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import {
  DEFAULT_PARTITIONS,
  DEFAULT_PRESENCE_TTL_MS,
  PresenceRegistry,
  DEFAULT_REDIS_TIMEOUT_MS,
  checkPartitions,
  closeRedis,
  createKeys,
  createNodeId,
  createRedis,
  isCluster,
  redisErrorLogger,
  createRedisDeadline,
  httpTimeouts,
  withTimeout,
  type HttpTimeoutOptions,
  type Logger,
} from '@herald/core';
import { createAuthenticate, type AuthorizeRooms } from './authenticate.js';
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  MIN_MAX_BUFFERED_BYTES,
  createBufferedBytesCap,
} from './buffered-bytes-cap.js';
import { createAllowRequest } from './allow-request.js';
import { createClientEventLimit } from './client-event-limit.js';
import { createDeviceLimit } from './device-limit.js';
import { dropHandshakes } from './drop-handshake.js';
import { HandshakeLimiter } from './handshake-limiter.js';
import { corsOptions, createOriginCheck, describeBadOrigins } from './origin-check.js';
import { createConnectionHandler } from './connection-handler.js';
import { createHttpRoutes } from './http-routes.js';
import { createRedisGate } from './redis-gate.js';
import { trackRoomSubscriptions } from './room-subscriptions.js';
import { createTokenLifetime } from './token-lifetime.js';
import { trimConnection } from './trim-connection.js';
import { createTokenVerifier, type JwtOptions } from './verification-keys.js';
import type { HeraldServer } from './types.js';

/**
 * Options of a socket node. `headersTimeoutMs` (10 s) and `requestTimeoutMs` (30 s) bound
 * how long a client may take to send an HTTP request (handshakes, polling, the embedder's
 * routes): a slowloris client gets `408` and its connection closed.
 */
export interface SocketNodeOptions extends HttpTimeoutOptions {
  /** Redis for the adapter, presence and the client-events stream. */
  redisUrl: string;
  /** Key prefix with a hash tag, e.g. `{herald}`; keys come from `createKeys(prefix, partitions)`. */
  prefix: string;
  /** Partitions (`HERALD_PARTITIONS`), the same in every process; checked against Redis at start. @default 16 */
  partitions?: number;
  /**
   * HS secret (at least 32 bytes): the default key for HS tokens without a `kid`.
   * Optional when `jwt.publicKey` or `jwt.keys` verify the tokens instead.
   */
  jwtSecret?: string;
  /** Algorithms, public and rotating keys, `iss` / `aud`, clock tolerance. @default HS256 with `jwtSecret` */
  jwt?: JwtOptions;
  /**
   * Seconds before a connection's token expires when it gets `herald:token_expiring`
   * (it may then send `herald:auth { token }`); at `exp` plus the clock tolerance it is
   * disconnected with `error { code: 'token_expired' }`. 0 sends no warning. @default 60
   */
  tokenExpiryWarningS?: number;
  /**
   * Rooms a connection joins besides its user room and its token's `rooms` claim,
   * decided at the handshake; a throw refuses the connection. `user:*` rooms other
   * than the user's own are never joined. Clients never choose rooms themselves.
   */
  authorizeRooms?: AuthorizeRooms;
  /** TCP port; 0 picks any free port (read it back from `SocketNode.port`). @default 3000 */
  port?: number;
  /** @default '0.0.0.0' */
  host?: string;
  /** Socket.IO path. @default '/socket.io/' */
  wsPath?: string;
  /**
   * Browser origins allowed cross-origin, matched exactly (`https://app.example.com`).
   * Handshakes (polling and websocket) with another `Origin` are refused; requests
   * without one (non-browser clients) and same-origin pages are allowed. `['*']`
   * allows every origin, and then without credentials (no cookies). @default [] (none)
   */
  corsOrigins?: string[];
  /**
   * Largest message a client may send, in bytes (Socket.IO's `maxHttpBufferSize`): a
   * bigger websocket frame closes that connection (close code 1009), a bigger polling
   * POST gets 413 and ends the session. @default 65_536
   */
  maxMessageBytes?: number;
  /**
   * Bytes one connection may have waiting on this node (queued by Engine.IO or unsent in
   * its TCP connection's write buffer) before it is cut, logged `slow_consumer`; the
   * device replays what it missed from its cursor when it reconnects. At least 65_536;
   * 0 = no cap. @default 1_048_576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** Client events one socket may send per second, sustained; 0 = no limit. @default 20 */
  clientEventRate?: number;
  /** Client events one socket may send at once after a quiet spell. @default 40 */
  clientEventBurst?: number;
  /**
   * Refused (over-rate) events after which a socket is disconnected; the count drains
   * by a tenth of this per second. 0 = never disconnect. @default 100
   */
  rateLimitDisconnectAfter?: number;
  /**
   * Devices one user may have connected at once, counted across all nodes from presence;
   * the newest handshake beyond it is refused with `too_many_devices`. 0 = no limit. @default 20
   */
  maxDevicesPerUser?: number;
  /** Handshakes one client address may start per second on this node; 0 = no limit. @default 50 */
  handshakeRate?: number;
  /** Handshakes one client address may start at once on this node. @default 100 */
  handshakeBurst?: number;
  /**
   * Reverse proxies in front of the node whose `X-Forwarded-For` is believed when
   * counting handshakes per address: false (0) = none, use the TCP peer; true = one
   * (e.g. nginx); a number = that many. @default false
   */
  trustProxy?: boolean | number;
  /** Names this node's presence entries. @default createNodeId() */
  nodeId?: string;
  /** Presence entry lifetime without a heartbeat; heartbeats run every third of it. @default 20_000 */
  presenceTtlMs?: number;
  /**
   * How long a handshake, a client event's ack, a sync or `/readyz` waits for Redis before
   * it is answered `unavailable`; while the connection is reconnecting they are answered
   * at once. @default 2_000
   */
  redisTimeoutMs?: number;
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

/** Shutdown steps that need Redis give up after this, so SIGTERM still ends within 10 s when Redis is gone. */
const CLOSE_STEP_TIMEOUT_MS = 2_000;

function checkOptions(options: SocketNodeOptions): void {
  const port = options.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`SocketNodeOptions.port must be an integer from 0 to 65535, got ${port}`);
  }
  const wsPath = options.wsPath ?? '/socket.io/';
  if (!wsPath.startsWith('/'))
    throw new RangeError(`SocketNodeOptions.wsPath must start with "/", got ${wsPath}`);
  const badOrigins = describeBadOrigins(options.corsOrigins ?? []);
  if (badOrigins) throw new RangeError(`SocketNodeOptions.corsOrigins: ${badOrigins}`);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1_024) {
    throw new RangeError(
      `SocketNodeOptions.maxMessageBytes must be an integer >= 1024, got ${maxMessageBytes}`,
    );
  }
  for (const name of ['clientEventRate', 'maxDevicesPerUser', 'handshakeRate'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`SocketNodeOptions.${name} must be a number >= 0 (0 = no limit), got ${value}`);
    }
  }
  const { maxBufferedBytes } = options;
  if (
    maxBufferedBytes !== undefined &&
    maxBufferedBytes !== 0 &&
    !(Number.isInteger(maxBufferedBytes) && maxBufferedBytes >= MIN_MAX_BUFFERED_BYTES)
  ) {
    throw new RangeError(
      `SocketNodeOptions.maxBufferedBytes must be 0 (no cap) or an integer >= ${MIN_MAX_BUFFERED_BYTES}, got ${maxBufferedBytes}`,
    );
  }
  const { redisTimeoutMs } = options;
  if (redisTimeoutMs !== undefined && !(Number.isInteger(redisTimeoutMs) && redisTimeoutMs >= 1)) {
    throw new RangeError(`SocketNodeOptions.redisTimeoutMs must be an integer >= 1, got ${redisTimeoutMs}`);
  }
  const { trustProxy } = options;
  if (typeof trustProxy === 'number' && !(Number.isInteger(trustProxy) && trustProxy >= 0)) {
    throw new RangeError(
      `SocketNodeOptions.trustProxy must be a boolean or an integer >= 0, got ${trustProxy}`,
    );
  }
}

/** Socket.IO's own default is 1 MB; Herald's client events are a few hundred bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;

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
  // Throws naming the option at fault (a secret under 32 bytes, a key no algorithm fits…).
  const verifier = createTokenVerifier(options.jwtSecret, options.jwt);
  const nodeId = options.nodeId ?? createNodeId();
  const wsPath = options.wsPath ?? '/socket.io/';
  const host = options.host ?? '0.0.0.0';
  const log = options.logger.child({ component: 'socket-node', nodeId });
  const tokenLifetime = createTokenLifetime({
    verify: verifier.verify,
    warningS: options.tokenExpiryWarningS,
    graceS: verifier.clockToleranceS,
    logger: log,
  });
  const keys = createKeys(options.prefix, options.partitions ?? DEFAULT_PARTITIONS);

  // One connection for commands and the adapter's SPUBLISH, one in subscriber mode. On a
  // cluster both are `Cluster` clients, and the subscriber has `shardedSubscribers` (which
  // createRedisClient sets): one subscriber connection per master, each room channel
  // SSUBSCRIBEd on its slot's master and again after a failover.
  const redis: RedisClient = createRedis(options.redisUrl);
  const sub: RedisClient = redis.duplicate();
  redis.on('error', redisErrorLogger(log, 'redis connection error'));
  sub.on('error', redisErrorLogger(log, 'redis connection error (subscriber)'));
  // Every door that needs Redis goes through it: commands would otherwise wait for a
  // reconnect forever (maxRetriesPerRequest: null), and a device or probe with them.
  const redisTimeoutMs = options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const deadline = createRedisDeadline(redis, redisTimeoutMs);
  // Before the adapter exists: it wraps the subscriber's SSUBSCRIBE and SUNSUBSCRIBE.
  const roomSubscriptions = trackRoomSubscriptions({
    sub,
    channelPrefix: keys.socketIoChannelPrefix,
    timeoutMs: redisTimeoutMs,
    logger: log,
  });

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
    return (await deadline(() => redis.ping(), 'readiness probe')) === 'PONG';
  };

  const corsOrigins = options.corsOrigins ?? [];
  const clientEventLimit =
    options.clientEventRate === 0
      ? undefined
      : createClientEventLimit({
          ratePerSecond: options.clientEventRate,
          burst: options.clientEventBurst,
          disconnectAfter: options.rateLimitDisconnectAfter,
        });
  const handshakeLimiter =
    options.handshakeRate === 0
      ? undefined
      : new HandshakeLimiter({ ratePerSecond: options.handshakeRate, burst: options.handshakeBurst });
  const trustedProxies = options.trustProxy === true ? 1 : options.trustProxy || 0;
  const bufferedBytesCap =
    options.maxBufferedBytes === 0
      ? undefined
      : createBufferedBytesCap({ maxBufferedBytes: options.maxBufferedBytes, logger: log });

  const httpServer = http.createServer(
    httpTimeouts(options, 'startSocketNode'),
    createHttpRoutes({ isReady, httpHandler: options.httpHandler, logger: log }),
  );
  const io: HeraldServer = new Server(httpServer, {
    path: wsPath,
    transports: ['polling', 'websocket'],
    serveClient: false,
    cors: corsOptions(corsOrigins),
    // Socket.IO's cors only shapes polling response headers; this refuses every new session
    // (polling or websocket) from a disallowed Origin or an address over its handshake rate.
    allowRequest: createAllowRequest({
      handshakeLimiter,
      isOriginAllowed: createOriginCheck(corsOrigins),
      trustedProxies,
      logger: log,
    }),
    maxHttpBufferSize: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    // Sharded pub/sub, subscribed per room: this node receives only what is emitted to rooms
    // it holds a socket in (plus broadcasts), not every user's events. Emitters outside
    // (dispatcher, fallback worker) use createShardedEmitter with the same channel prefix.
    adapter: createShardedAdapter(redis, sub, {
      channelPrefix: keys.socketIoChannelPrefix,
      subscriptionMode: 'dynamic',
    }),
  });
  io.of('/').adapter.on('error', (error: unknown) => log.error({ err: error }, 'socket.io adapter error'));
  // First `connection` listener: frees each connection's upgrade request, headers and token.
  dropHandshakes(io);
  io.use(
    createAuthenticate({
      verify: verifier.verify,
      authorizeRooms: options.authorizeRooms,
      onAccepted: (socket, identity) => tokenLifetime.remember(socket, identity.exp),
      logger: log,
      isClosing,
    }),
  );
  // After authentication, so a bad token is told so whatever the state of Redis.
  io.use(createRedisGate({ redis, sub, deadline, logger: log }));
  // After the rooms were joined (authentication) and Redis answered (the gate).
  io.use(roomSubscriptions.awaitSubscribed);
  // After authentication (it needs the token's userId), before presence (registered on `connection`).
  if (options.maxDevicesPerUser !== 0) {
    io.use(
      createDeviceLimit({ presence, deadline, maxDevicesPerUser: options.maxDevicesPerUser, logger: log }),
    );
  }
  io.on(
    'connection',
    createConnectionHandler({
      redis,
      deadline,
      // A quarter of the cap leaves room for live events sent meanwhile.
      replayChunkBytes: Math.floor((bufferedBytesCap?.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES) / 4),
      keys,
      nodeId,
      presence,
      logger: log,
      isClosing,
      clientEventLimit,
    }),
  );
  // Warns before each connection's token expires, takes herald:auth, disconnects at expiry.
  io.on('connection', tokenLifetime.onConnection);
  if (bufferedBytesCap) io.on('connection', bufferedBytesCap.onConnection);
  // Last `connection` listener: shrinks arrays the libraries grew for this connection.
  io.on('connection', trimConnection);
  presence.startHeartbeat((error) => log.warn({ err: error }, 'presence heartbeat failed'));
  askToResyncAfterSubscriptionLoss(io, sub, log);

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
    // Listen only once Redis answers and the adapter's subscriptions are in place: a device
    // accepted earlier would look online in presence yet miss what is emitted to it. ioredis
    // keeps retrying while Redis is away. A Redis that refuses SSUBSCRIBE (before 7.0) would
    // otherwise leave a node that listens and never receives an event.
    await Promise.all([
      redis.ping(),
      sub.ping(),
      roomSubscriptions.confirmed().catch((error: unknown) => {
        throw new HeraldError(
          HeraldErrorCode.invalidConfig,
          `Redis refused SSUBSCRIBE (${error instanceof Error ? error.message : String(error)}): socket nodes use sharded pub/sub, which needs Redis 7 or newer`,
          { cause: error },
        );
      }),
    ]);
    await checkPartitions(redis, keys);
    httpServer.listen(options.port ?? 3000, host);
    await once(httpServer, 'listening');
  } catch (error) {
    presence.stopHeartbeat();
    tokenLifetime.close();
    await io.close().catch(() => undefined);
    await closeRedisConnections();
    throw error;
  }
  const port = (httpServer.address() as AddressInfo).port;
  log.info(
    { port, host, wsPath, presenceTtlMs: presence.ttlMs },
    `listening on http://${host}:${port}${wsPath}`,
  );
  log.info(
    { algorithms: verifier.keys.algorithms, keys: verifier.keys.describe() },
    'verifying access tokens with these keys',
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
    tokenLifetime.close();
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

/**
 * While the subscriber connection is away, events emitted through Redis never reach this
 * node, and its devices cannot tell. Redis keeps no subscription across a lost connection
 * (nor a restart); ioredis SSUBSCRIBEs again, one command per channel it held, to the
 * namespace's, this node's reply channel and every room channel, before it sends anything
 * else. Once the PING sent after them is answered every room is subscribed again, and every
 * local device gets `herald:resync`, so those with a cursor (the SDK) replay what they
 * missed instead of waiting for a later event to reveal it.
 */
function askToResyncAfterSubscriptionLoss(io: HeraldServer, sub: RedisClient, log: Logger): void {
  let lost = false;
  const resync = (reason: string) => {
    log.warn(
      { devices: io.of('/').sockets.size, reason },
      'redis subscription back: asking devices to resync',
    );
    io.local.emit('herald:resync', { reason });
  };
  if (isCluster(sub)) {
    // A Cluster emits no close/ready when the sharded subscriber of one master is lost (a
    // failover): `-node` when a node's connection goes, `subscribersReady` once its subscribers
    // were reset and every channel subscribed again at the slots' new owners (ioredis sends
    // those SSUBSCRIBEs without awaiting them). Around the takeover the command connection
    // stalls too (commands to healthy masters waited up to about 1 s in a probe), and the
    // subscribers may be reset several times in a row: one resync, RESYNC_AFTER_FAILOVER_MS
    // after the last reset, rather than a replay request from every device into that stall.
    let timer: NodeJS.Timeout | undefined;
    sub.on('-node', () => {
      lost = true;
    });
    sub.on('subscribersReady', () => {
      if (!lost) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        lost = false;
        resync('redis_failover');
      }, RESYNC_AFTER_FAILOVER_MS);
      timer.unref();
    });
    return;
  }
  sub.on('close', () => {
    lost = true;
  });
  sub.on('ready', () => {
    if (!lost) return;
    lost = false;
    // The PING's reply comes after those of the SSUBSCRIBEs ioredis sent on reconnecting.
    sub
      .ping()
      .then(() => resync('redis_reconnected'))
      .catch((error: unknown) => log.warn({ err: error }, 'could not confirm the redis subscription'));
  });
}

/** How long after a Cluster's sharded subscribers were last reset the devices are asked to resync. */
const RESYNC_AFTER_FAILOVER_MS = 1_000;
