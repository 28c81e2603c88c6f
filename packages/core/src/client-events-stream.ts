import type { RedisClient } from './redis-client.js';
import { redisErrorLogger } from './redis-errors.js';
import type { Logger } from 'pino';
import { ClientEventRecord, clientEventSchemas, type ClientEventName } from '@herald/contracts';
import type { RedisKeys } from './keys.js';

/** Approximate cap on the stream, so an absent consumer cannot fill Redis. */
export const CLIENT_EVENTS_MAXLEN = 100_000;

export interface AppendClientEventInput {
  type: ClientEventName;
  userId: string;
  payload: unknown;
  socketId: string;
  nodeId: string;
}

/** Appends a validated client event to the stream domain services consume. Returns the stream id. */
export async function appendClientEvent(
  redis: RedisClient,
  keys: RedisKeys,
  input: AppendClientEventInput,
): Promise<string> {
  const id = await redis.xadd(
    keys.clientEvents,
    'MAXLEN',
    '~',
    CLIENT_EVENTS_MAXLEN,
    '*',
    'type',
    input.type,
    'userId',
    input.userId,
    'payload',
    JSON.stringify(input.payload),
    'socketId',
    input.socketId,
    'nodeId',
    input.nodeId,
    'ts',
    String(Date.now()),
  );
  return id as string;
}

export type ClientEventHandler = (event: ClientEventRecord) => Promise<void> | void;

export interface ConsumeClientEventsOptions {
  /** A connection this consumer may block on; it is duplicated, never used directly. */
  redis: RedisClient;
  keys: RedisKeys;
  /** Consumer group: one per domain service; each group sees every event once. @default 'domain' */
  group?: string;
  /** This process's name within the group. @default a random id */
  consumer?: string;
  /** Where a new group starts: '0' reads what the stream still holds, '$' only new events. @default '0' */
  startFrom?: '0' | '$';
  /** How long one blocking read waits. @default 2_000 */
  blockMs?: number;
  /** Events per read. @default 100 */
  batchSize?: number;
  /** A message pending this long on a consumer that died is claimed by another. @default 30_000 */
  claimIdleMs?: number;
  /** Deliveries after which a failing event moves to the dead stream instead of retrying. @default 5 */
  maxDeliveries?: number;
  logger: Logger;
}

export interface ClientEventsConsumer {
  /** Stops reading and closes the consumer's connection. */
  stop(): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

function toRecord(id: string, fields: string[]): ClientEventRecord | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  let payload: unknown;
  try {
    payload = JSON.parse(map.get('payload') ?? 'null');
  } catch {
    return null;
  }
  const record = ClientEventRecord.safeParse({
    id,
    type: map.get('type'),
    userId: map.get('userId'),
    payload,
    socketId: map.get('socketId'),
    nodeId: map.get('nodeId'),
    ts: Number(map.get('ts')),
  });
  if (!record.success) return null;
  // Read-back is an edge too: a known type must still match its schema.
  const schema = (clientEventSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>)[
    record.data.type
  ];
  if (schema && !schema.safeParse(record.data.payload).success) return null;
  return record.data;
}

/**
 * Reads the client-events stream as a member of a consumer group. Each event is
 * acked after `handler` resolves; an event whose handler throws stays pending and
 * is retried (after `claimIdleMs`), and after `maxDeliveries` it moves to the dead
 * stream with the error logged. A consumer that died leaves its pending events to
 * be claimed by the others, so nothing is lost.
 */
export function consumeClientEvents(
  handler: ClientEventHandler,
  options: ConsumeClientEventsOptions,
): ClientEventsConsumer {
  const group = options.group ?? 'domain';
  const consumer = options.consumer ?? `c-${crypto.randomUUID()}`;
  const blockMs = options.blockMs ?? 2_000;
  const batchSize = options.batchSize ?? 100;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const { keys } = options;
  const log = options.logger.child({ component: 'client-events-consumer', group, consumer });
  const redis = options.redis.duplicate();
  // A duplicate has none of the original's listeners; without one, ioredis prints each
  // connection error with its stack (e.g. for every reconnect while Redis is away).
  redis.on('error', redisErrorLogger(log, 'redis connection error'));
  let running = true;

  const ensureGroup = async () => {
    try {
      await redis.xgroup('CREATE', keys.clientEvents, group, options.startFrom ?? '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('BUSYGROUP'))) throw error;
    }
  };

  const deadLetter = async (id: string, fields: string[], reason: string) => {
    await redis
      .multi()
      .xadd(keys.clientEventsDead, 'MAXLEN', '~', 10_000, '*', 'sourceId', id, 'reason', reason, ...fields)
      .xack(keys.clientEvents, group, id)
      .exec();
  };

  const handle = async (entries: StreamEntry[]) => {
    for (const [id, fields] of entries) {
      const record = toRecord(id, fields);
      if (!record) {
        log.error({ id }, 'client event does not match its schema; moved to the dead stream');
        await deadLetter(id, fields, 'invalid');
        continue;
      }
      try {
        await handler(record);
        await redis.xack(keys.clientEvents, group, id);
      } catch (error) {
        const pending = (await redis.xpending(keys.clientEvents, group, id, id, 1)) as Array<
          [string, string, number, number]
        >;
        const deliveries = pending[0]?.[3] ?? 1;
        if (deliveries >= maxDeliveries) {
          log.error(
            { err: error, id, deliveries },
            'client event handler kept failing; moved to the dead stream',
          );
          await deadLetter(id, fields, error instanceof Error ? error.message : String(error));
        } else {
          log.warn({ err: error, id, deliveries }, 'client event handler failed; it will be retried');
        }
      }
    }
  };

  const loop = async () => {
    await ensureGroup();
    let lastClaim = 0;
    // Our own pending entries first: whatever a previous run of this consumer read but never acked.
    let cursor = '0';
    while (running) {
      try {
        if (Date.now() - lastClaim >= claimIdleMs) {
          lastClaim = Date.now();
          const claimed = (await redis.xautoclaim(
            keys.clientEvents,
            group,
            consumer,
            claimIdleMs,
            '0-0',
            'COUNT',
            batchSize,
          )) as [string, StreamEntry[]];
          if (claimed[1].length > 0) await handle(claimed[1].filter((e) => e && e[1]));
        }
        const reply = (await redis.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          batchSize,
          'BLOCK',
          blockMs,
          'STREAMS',
          keys.clientEvents,
          cursor,
        )) as Array<[string, StreamEntry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (cursor === '0' && entries.length === 0) cursor = '>';
        await handle(entries);
      } catch (error) {
        if (!running) break;
        if (error instanceof Error && error.message.includes('NOGROUP')) {
          await ensureGroup().catch(() => undefined);
        } else {
          log.error({ err: error }, 'reading client events failed; retrying in 1 s');
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  };

  const done = loop().catch((error: unknown) => {
    // stop() disconnects, which rejects a command in flight ("Connection is closed."): expected then.
    if (running) log.error({ err: error }, 'client events consumer stopped');
    else log.debug({ err: error }, 'client events consumer stopped while a command was in flight');
  });

  return {
    async stop() {
      running = false;
      // A blocking XREADGROUP only returns after blockMs; disconnecting ends it at once.
      redis.disconnect();
      await done;
    },
  };
}
