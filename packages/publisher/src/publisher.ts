import {
  DEFAULT_INBOX_MAX,
  DEFAULT_INBOX_TTL_S,
  DEFAULT_MAX_PAYLOAD_BYTES,
  EVENTS_PER_ENTRY,
  HeraldError,
  HeraldErrorCode,
  UserId,
  defaultCatalog,
  prepareEvent,
  toFieldIssues,
  type Catalog,
  type DefaultCatalog,
  type PayloadOf,
  type PrepareEventInput,
  type PublishOptions,
  type PublishRequest,
} from '@herald/contracts';
import {
  DEFAULT_PARTITIONS,
  DEFAULT_REDIS_TIMEOUT_MS,
  MAX_PARTITIONS,
  MAX_WAIT_REPLICAS,
  PresenceReader,
  checkPartitions,
  closeRedis,
  consumeClientEvents as consumeStream,
  createKeys,
  createRedis,
  redisErrorLogger,
  createRedisDeadline,
  defineHeraldScripts,
  silentLogger,
  type ClientEventHandler,
  type ClientEventsConsumer,
  type ConsumeClientEventsOptions,
  type Logger,
  type RedisClient,
} from '@herald/core';
import { appendEntries } from './append-entries.js';
import { createEventBatcher, type EventBatcher } from './event-batcher.js';
import { toEventItems } from './event-entries.js';

export interface PublisherOptions<C extends Catalog = DefaultCatalog> {
  /** Redis to connect to. One of `redisUrl` or `connection` is required. */
  redisUrl?: string;
  /** An ioredis connection to reuse instead of opening one; `close()` leaves it open. */
  connection?: RedisClient;
  /** Key prefix of every Herald key and queue, a hash tag; must match the dispatcher's. @default '{herald}' */
  prefix?: string;
  /**
   * Partitions user ids are spread over (`HERALD_PARTITIONS`); the same in every process.
   * Checked against the value stored in Redis before the first publish.
   * @default 16
   */
  partitions?: number;
  /** Events this publisher may send, with their payload schemas. @default defaultCatalog */
  catalog?: C;
  /**
   * Largest payload one event may carry, in bytes of serialized JSON (UTF-8). A larger
   * one is refused with `invalid_payload` naming its size and the limit, and nothing is
   * enqueued. Keep it at or under the socket nodes' message size (`maxHttpBufferSize`).
   * @default 65_536 (64 KiB)
   */
  maxPayloadBytes?: number;
  /**
   * Most events (or `toUsers` slices) one stream entry carries. Concurrent publishes are
   * validated one by one and then sent together, one entry per partition, which amortises
   * each script call's and each entry's fixed cost; a batch is sent as soon as it reaches
   * this many events (or `maxBatchBytes`). 1 turns batching off (one entry per event slice).
   * @default 200
   */
  maxBatchEvents?: number;
  /**
   * Most payload bytes (JSON, summed) one entry carries; an event larger than this still
   * goes, alone in its entry.
   * @default 1_048_576 (1 MiB)
   */
  maxBatchBytes?: number;
  /**
   * How long a batch waits for more events after its first, in milliseconds. 0 sends
   * it at the end of the current tick (`setImmediate`). Either way, events published
   * while a send is in flight gather and go together when it returns. A short linger lets
   * a steady trickle share entries too (the bench README has the measurements).
   * @default 2
   */
  lingerMs?: number;
  /**
   * Under load, batches wait `busyLingerMs` instead of `lingerMs` to fill: while this
   * publisher gets at least `busyRate` events per second (measured over 100 ms windows).
   * At high rates the round trip alone leaves entries of a few events, and each entry
   * costs Redis and the dispatcher a fixed amount. 0 turns it off.
   * @default 4_000
   */
  busyRate?: number;
  /** How long a batch waits for more events under load (see `busyRate`), in milliseconds. @default 15 */
  busyLingerMs?: number;
  /**
   * Events each user's inbox keeps for replay to reconnecting devices (`HERALD_INBOX_MAX`).
   * The publisher appends to inboxes as it enqueues, so every process that publishes
   * (your services, the publish API) must use the same value.
   * @default 500
   */
  inboxMax?: number;
  /** Seconds an inbox lives after its last append (`HERALD_INBOX_TTL_S`). Same across publishers. @default 86_400 */
  inboxTtlS?: number;
  /**
   * How long a publish, a presence read or `checkRedis` waits for Redis before it rejects
   * with `unavailable` (`HERALD_REDIS_TIMEOUT_MS`). While the connection is down after
   * having been up, they reject at once instead. A publish refused before its MULTI was
   * sent was not published; one refused after may still be (when Redis answers late):
   * retrying it with the same `eventId` is safe either way, as the retry is deduped.
   * @default 2_000
   */
  redisTimeoutMs?: number;
  /**
   * Replicas that must have each appended entry before its publish resolves
   * (`HERALD_PUBLISH_WAIT_REPLICAS`): after each append script, `WAIT n` on the master that
   * ran it. Redis replicates asynchronously, so with 0 a master that fails right after a
   * publish resolved can lose that event (and its seqs) to the replica taking over; with
   * n ≥ 1 an acknowledged event survives the loss of its master. The price: every publish
   * waits for a replica's round trip, and while fewer than n replicas answer, publishes to
   * that master's partitions are refused `unavailable` after `redisTimeoutMs` (the entry is
   * on the master: it may still be delivered; a retry with the same `eventId` is deduped).
   * `WAIT` gives up after three quarters of `redisTimeoutMs`.
   * @default 0
   */
  waitReplicas?: number;
  /** @default a silent logger */
  logger?: Logger;
}

/** The largest `maxPayloadBytes` accepted: beyond it an event is a file, not a notification. */
const MAX_PAYLOAD_BYTES_LIMIT = 64 * 1024 * 1024;

function checkOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `createPublisher: ${name} must be an integer from ${min} to ${max}; got ${String(value)}`,
    );
  }
  return value;
}

/** Who an event goes to; `emit` validates, enqueues and resolves to the event id. */
export interface Target<C extends Catalog = DefaultCatalog> {
  /**
   * Validates `payload` against the event's schema and enqueues it. Throws a
   * `HeraldError` (`unknown_event` / `invalid_payload`) naming the event and the
   * field when it does not fit; nothing is enqueued then. Rejects `unavailable` when
   * Redis does not take it within `redisTimeoutMs` (retry with the same `eventId`), and
   * `event_id_conflict` when its `eventId` was published in the last 24 h with another
   * event, target, payload or fallback (the issues name which; nothing is delivered for it).
   */
  emit<E extends keyof C & string>(
    event: E,
    payload: PayloadOf<C, E>,
    options?: PublishOptions,
  ): Promise<string>;
}

export type PublisherConsumeOptions = Omit<ConsumeClientEventsOptions, 'redis' | 'keys' | 'logger'>;

export interface Publisher<C extends Catalog = DefaultCatalog> {
  toUser(userId: string): Target<C>;
  toUsers(userIds: string[]): Target<C>;
  toRoom(room: string): Target<C>;
  broadcast(): Target<C>;
  /** The untyped path the HTTP API uses: same validation (prepareEvent from contracts). Resolves to the event id. */
  publish(request: PublishRequest): Promise<string>;
  /** Whether `userId` has a connected device on any socket node, and how many. Rejects `unavailable` as a publish does. */
  presence(userId: string): Promise<{ online: boolean; devices: number }>;
  isUserConnected(userId: string): Promise<boolean>;
  /** Resolves once Redis answers a PING, or rejects `unavailable` within `redisTimeoutMs` (for readiness probes). */
  checkRedis(): Promise<void>;
  /**
   * Reads `notification:mark_read` and other client events from the stream socket
   * nodes append to, as a member of a consumer group (one group per domain service).
   * `close()` stops every consumer started here.
   */
  consumeClientEvents(handler: ClientEventHandler, options?: PublisherConsumeOptions): ClientEventsConsumer;
  /** Stops consumers, sends what was accepted, and closes the connection this publisher opened (not a passed `connection`). */
  close(): Promise<void>;
}

const REQUEST_KEYS = new Set(['event', 'to', 'payload', 'eventId', 'fallback']);

/**
 * Checks the parts of a publish request that `prepareEvent` does not see: that it
 * is an object naming an event, with no unknown keys. Everything else (target,
 * payload, options) is left to `prepareEvent`, the one validation path.
 */
function splitRequest(request: unknown): PrepareEventInput {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      'A publish request must be a JSON object with event, to and payload',
      {
        issues: [{ path: '(root)', message: 'expected an object' }],
      },
    );
  }
  const body = request as Record<string, unknown>;
  const issues = Object.keys(body)
    .filter((key) => !REQUEST_KEYS.has(key))
    .map((key) => ({ path: key, message: 'unknown field; allowed: event, to, payload, eventId, fallback' }));
  if (typeof body.event !== 'string' || body.event === '') {
    issues.unshift({ path: 'event', message: 'expected the name of an event (a non-empty string)' });
  }
  if (issues.length > 0) {
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      `Invalid publish request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { issues },
    );
  }
  const options: Record<string, unknown> = {};
  if (body.eventId !== undefined) options.eventId = body.eventId;
  if (body.fallback !== undefined) options.fallback = body.fallback;
  return { event: body.event as string, to: body.to, payload: body.payload, options };
}

function checkUserId(userId: unknown): string {
  const parsed = UserId.safeParse(userId);
  if (parsed.success) return parsed.data;
  const issues = toFieldIssues(parsed.error, 'userId');
  throw new HeraldError(
    HeraldErrorCode.invalidPayload,
    `Invalid userId: ${issues.map((i) => i.message).join('; ')}`,
    {
      issues,
    },
  );
}

/** The refusal of a publish that was not sent to Redis: nothing of it will be delivered. */
function notPublished(what: string, detail: string): HeraldError {
  return new HeraldError(
    HeraldErrorCode.unavailable,
    `Redis is unavailable (${detail}): ${what} was not published; retry later (with the same eventId)`,
  );
}

/**
 * Hands an event's items to the batcher and waits at most `timeoutMs` for Redis to take
 * them. At the deadline, items not yet sent are withdrawn (never sent: a clean refusal);
 * items already sent may still run when Redis answers, which the error says, so the
 * caller retries with the same event id and the retry is deduped.
 */
async function addWithin(
  batcher: EventBatcher,
  items: Parameters<EventBatcher['add']>[0],
  eventId: string,
  idSupplied: boolean,
  timeoutMs: number,
): Promise<void> {
  const pending = batcher.add(items);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const notSent = notPublished(`event ${eventId}`, `no answer in ${timeoutMs} ms`);
      // Withdrawn: `pending.done` rejects with notSent.
      if (pending.withdraw(notSent)) return;
      // Only a producer-supplied id is recorded: a retry under a generated one is not deduped.
      const retry = idSupplied
        ? `retry with the same eventId "${eventId}", which is deduped`
        : 'a retry may deliver it twice: give events your own eventId to make retries safe';
      reject(
        new HeraldError(
          HeraldErrorCode.unavailable,
          `Redis did not confirm event ${eventId} within ${timeoutMs} ms: it may still be published; ${retry}`,
        ),
      );
    }, timeoutMs);
  });
  try {
    await Promise.race([pending.done, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a publisher: the way domain services send events to users' devices.
 *
 * @example
 * const publisher = createPublisher({ redisUrl: process.env.REDIS_URL });
 * const id = await publisher.toUser(userId).emit('notification:new', { notification: { title: 'Hi' } });
 * await publisher.close();
 */
export function createPublisher<C extends Catalog = DefaultCatalog>(
  options: PublisherOptions<C>,
): Publisher<C> {
  if (!options.connection && !options.redisUrl) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'createPublisher: pass redisUrl (e.g. redis://127.0.0.1:6379) or connection (an ioredis instance)',
    );
  }
  const prefix = options.prefix ?? '{herald}';
  if (typeof prefix !== 'string' || !/^\{[^{}\s]+\}$/.test(prefix)) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `createPublisher: prefix must be a hash tag without spaces, such as {herald}; got ${JSON.stringify(prefix)}`,
    );
  }
  const partitions = checkOption('partitions', options.partitions ?? DEFAULT_PARTITIONS, 1, MAX_PARTITIONS);
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (
    !Number.isInteger(maxPayloadBytes) ||
    maxPayloadBytes < 1 ||
    maxPayloadBytes > MAX_PAYLOAD_BYTES_LIMIT
  ) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `createPublisher: maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}; got ${String(maxPayloadBytes)}`,
    );
  }
  const maxBatchEvents = checkOption('maxBatchEvents', options.maxBatchEvents ?? 200, 1, EVENTS_PER_ENTRY);
  const maxBatchBytes = checkOption(
    'maxBatchBytes',
    options.maxBatchBytes ?? 1024 * 1024,
    1,
    MAX_PAYLOAD_BYTES_LIMIT,
  );
  const lingerMs = checkOption('lingerMs', options.lingerMs ?? 2, 0, 10_000);
  const busyRate = checkOption('busyRate', options.busyRate ?? 4_000, 0, 10_000_000);
  const busyLingerMs = checkOption('busyLingerMs', options.busyLingerMs ?? 15, 0, 10_000);
  const inbox = {
    inboxMax: checkOption('inboxMax', options.inboxMax ?? DEFAULT_INBOX_MAX, 1, 100_000),
    inboxTtlS: checkOption('inboxTtlS', options.inboxTtlS ?? DEFAULT_INBOX_TTL_S, 1, 30 * 86_400),
  };
  const redisTimeoutMs = checkOption(
    'redisTimeoutMs',
    options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
    1,
    10 * 60_000,
  );
  const waitReplicas = checkOption('waitReplicas', options.waitReplicas ?? 0, 0, MAX_WAIT_REPLICAS);
  const catalog: Catalog = options.catalog ?? defaultCatalog;
  const log = (options.logger ?? silentLogger()).child({ component: 'publisher' });
  const ownsConnection = !options.connection;
  const redis = options.connection ?? createRedis(options.redisUrl as string);
  // A producer's own connection gets Herald's scripts before this publisher's first command.
  defineHeraldScripts(redis);
  if (ownsConnection) redis.on('error', redisErrorLogger(log, 'redis connection error'));
  const keys = createKeys(prefix, partitions);
  const presenceReader = new PresenceReader(redis, keys);
  /** Resolves once this deployment's partitions match ours; checked once, before the first append. */
  let partitionsChecked: Promise<void> | undefined;
  const checkPartitionsOnce = () => {
    partitionsChecked ??= checkPartitions(redis, keys).catch((error: unknown) => {
      // A connection error is not a mismatch: check again at the next send.
      if (!(error instanceof HeraldError)) partitionsChecked = undefined;
      throw error;
    });
    return partitionsChecked;
  };
  const deadline = createRedisDeadline(redis, redisTimeoutMs);
  /** Resolves at the connection's next `ready`: a batch published before the first one waits for it, unsent. */
  let nextReady: Promise<unknown> | undefined;
  const batcher = createEventBatcher({
    maxEvents: maxBatchEvents,
    maxBytes: maxBatchBytes,
    lingerMs,
    ...(busyRate > 0 ? { busy: { rate: busyRate, lingerMs: busyLingerMs } } : {}),
    gate: () => {
      if (redis.status === 'ready') return undefined;
      if (deadline.isDown()) return notPublished('the events', `connection ${redis.status}`);
      nextReady ??= new Promise((resolve) => redis.once('ready', resolve)).finally(() => {
        nextReady = undefined;
      });
      return nextReady;
    },
    append: async (entries) => {
      await checkPartitionsOnce();
      // WAIT gives up before the publish's own deadline, so the caller learns that the replicas
      // were missing rather than only that Redis was slow.
      return appendEntries(redis, keys, entries, inbox, {
        replicas: waitReplicas,
        timeoutMs: Math.max(1, Math.floor(redisTimeoutMs * 0.75)),
      });
    },
  });
  const consumers = new Set<ClientEventsConsumer>();
  let closed = false;

  const assertOpen = () => {
    if (closed)
      throw new HeraldError(
        HeraldErrorCode.internal,
        'This publisher is closed: create a new one to publish',
      );
  };

  const enqueue = async (input: PrepareEventInput): Promise<string> => {
    assertOpen();
    // Validation throws before anything touches Redis: a bad event is never enqueued.
    const prepared = prepareEvent(catalog, input, { maxPayloadBytes });
    const items = toEventItems(prepared, keys);
    // Known down: refuse at once, unsent, rather than queue behind the reconnect.
    if (deadline.isDown()) throw notPublished(`event ${prepared.eventId}`, `connection ${redis.status}`);
    await addWithin(batcher, items, prepared.eventId, prepared.idSupplied, redisTimeoutMs);
    log.debug(
      { eventId: prepared.eventId, event: prepared.event, target: prepared.target.kind, parts: items.length },
      'published',
    );
    return prepared.eventId;
  };

  const target = (to: unknown): Target<C> => ({
    emit: (event, payload, publishOptions) => enqueue({ event, to, payload, options: publishOptions }),
  });

  return {
    toUser: (userId) => target({ user: userId }),
    toUsers: (userIds) => target({ users: userIds }),
    toRoom: (room) => target({ room }),
    broadcast: () => target({ broadcast: true }),

    publish: async (request) => enqueue(splitRequest(request)),

    async presence(userId) {
      assertOpen();
      const id = checkUserId(userId);
      const devices = await deadline(() => presenceReader.devices(id), 'presence read');
      return { online: devices > 0, devices };
    },

    async isUserConnected(userId) {
      assertOpen();
      const id = checkUserId(userId);
      return deadline(() => presenceReader.isOnline(id), 'presence read');
    },

    async checkRedis() {
      assertOpen();
      await deadline(() => redis.ping(), 'PING');
    },

    consumeClientEvents(handler, consumeOptions = {}) {
      assertOpen();
      const consumer = consumeStream(handler, { ...consumeOptions, redis, keys, logger: log });
      consumers.add(consumer);
      return {
        async stop() {
          consumers.delete(consumer);
          await consumer.stop();
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      // Consumers block on their own duplicated connections; stop them first.
      await Promise.all([...consumers].map((consumer) => consumer.stop()));
      consumers.clear();
      // Publishes already accepted are sent before the connection closes.
      await batcher.drain();
      if (ownsConnection) await closeRedis(redis);
    },
  };
}
