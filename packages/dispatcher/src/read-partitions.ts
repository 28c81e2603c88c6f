import {
  DISPATCHERS_GROUP,
  ensureDispatcherGroups,
  isCluster,
  trimAcknowledged,
  type Logger,
  type RedisClient,
  type RedisKeys,
} from '@herald/core';

/** What a handler says about an entry it was given. */
export type EntryVerdict =
  /** Delivered: acknowledge it. */
  | { kind: 'done' }
  /** Can never be delivered (or only in part): acknowledge it and keep it in the dead stream with the reason. */
  | { kind: 'dead'; reason: string };

export interface PartitionReaderOptions {
  /** Duplicated for the blocking reads; used as is for acknowledgements, claims and trims. */
  redis: RedisClient;
  keys: RedisKeys;
  /** This process's name in the dispatchers' group. */
  consumer: string;
  /**
   * Delivers one entry. A throw leaves it pending: it is claimed again after `claimIdleMs`.
   * `release` frees the entry's slot before it resolves, once what costs CPU is done and
   * only waiting is left (its ack checks lingering to share a fallback job): the entry is
   * still acknowledged only when `handle` resolves.
   */
  handle(partition: number, id: string, fields: string[], release: () => void): Promise<EntryVerdict>;
  /** Entries being delivered at once (until `release`d), over all partitions. */
  concurrency: number;
  /** An entry pending this long on any consumer (a dead one, or this one after an error) is claimed and delivered again. */
  claimIdleMs: number;
  /** Deliveries after which an entry that was never acknowledged goes to the dead stream instead. */
  maxDeliveries: number;
  /** How long one blocking read waits before it reads again. */
  blockMs: number;
  /** How often the streams are trimmed below what the group acknowledged. */
  trimEveryMs: number;
  logger: Logger;
}

export interface PartitionReader {
  /** Connections held for the blocking reads: 1 on one Redis, one per partition on a Redis Cluster. */
  readonly readConnections: number;
  /** Stops reading, waits for the entries being delivered, and closes the blocking connections. */
  stop(): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

/** Dead streams keep about this many entries each: enough to look at, bounded if something goes badly wrong. */
const DEAD_STREAM_MAXLEN = 10_000;

/**
 * Reads every partition's stream as a member of the dispatchers' group and hands each
 * entry to `handle`, at most `concurrency` at a time; acknowledges an entry (`XACK`)
 * only once `handle` resolved, so an entry a dispatcher took and did not finish stays
 * pending and is claimed by another (`XCLAIM` after `claimIdleMs` idle). An entry delivered
 * `maxDeliveries` times without an acknowledgement, or that `handle` calls dead, goes to
 * the partition's dead stream with its reason, as poison jobs went to BullMQ's failed set.
 *
 * On one Redis, one blocking `XREADGROUP` covers every partition on one connection: a
 * dispatcher holds two connections for reading whatever the number of partitions (its
 * blocking one, and the shared one for acknowledgements, claims and trims). On a Redis
 * Cluster a multi-key command must stay in one slot and each partition is a slot of its
 * own, so that read would be refused (CROSSSLOT): there each partition is read by a
 * blocking `XREADGROUP` on a connection of its own (a `duplicate()` of the cluster, which
 * follows its partition's slot to whichever master owns it, also after a failover).
 *
 * The streams are trimmed with `XTRIM MINID` only below the oldest entry some group has
 * not acknowledged (its oldest pending entry, else everything up to what it last read):
 * an entry no dispatcher acknowledged is never trimmed.
 */
export function readPartitions(options: PartitionReaderOptions): PartitionReader {
  const { keys, redis, consumer, logger: log } = options;
  const streams = keys.partitionNumbers.map((partition) => keys.stream(partition));
  const partitionOfStream = new Map(streams.map((stream, partition) => [stream, partition]));
  // Each reader: a blocking connection and the streams one XREADGROUP of it covers.
  const readers = (isCluster(redis) ? streams.map((stream) => [stream]) : [streams]).map((group) => {
    // A Cluster's ready check (CLUSTER INFO) opens and keeps a connection to a random node,
    // replicas included: per reader that would double the connections for nothing.
    const blocking = isCluster(redis) ? redis.duplicate([], { enableReadyCheck: false }) : redis.duplicate();
    // A duplicate has none of the original's listeners: without one an error event would crash
    // the process. During a cluster failover a Cluster emits one per reconnect (some 100 a
    // second): debug, since the read loop reports the failure that matters once per retry.
    blocking.on('error', (error: Error) =>
      log.debug({ err: error }, 'redis connection error (stream reads)'),
    );
    return { blocking, streams: group };
  });
  let running = true;
  /** Entries until acknowledged (what `stop` waits for). */
  const inFlight = new Set<Promise<void>>();
  /** Entries holding a slot: being delivered and not yet released. */
  let holding = 0;
  /** Who waits for a free slot: the read loops and the claim pass may all be waiting. */
  const slotWaiters = new Set<() => void>();
  const wakeSlotWaiters = () => {
    for (const wake of slotWaiters) wake();
    slotWaiters.clear();
  };

  const deadLetter = async (partition: number, id: string, fields: string[], reason: string) => {
    await redis
      .multi()
      .xadd(
        keys.deadStream(partition),
        'MAXLEN',
        '~',
        DEAD_STREAM_MAXLEN,
        '*',
        'sourceId',
        id,
        'reason',
        reason,
        ...fields,
      )
      .xack(keys.stream(partition), DISPATCHERS_GROUP, id)
      .exec();
  };

  const deliver = (partition: number, [id, fields]: StreamEntry) => {
    holding += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      holding -= 1;
      wakeSlotWaiters();
    };
    const run = (async () => {
      try {
        const verdict = await options.handle(partition, id, fields, release);
        if (verdict.kind === 'dead') {
          log.error({ partition, id, reason: verdict.reason }, 'stream entry moved to the dead stream');
          await deadLetter(partition, id, fields, verdict.reason);
        } else {
          await redis.xack(keys.stream(partition), DISPATCHERS_GROUP, id);
        }
      } catch (error) {
        // Left pending: claimed again after claimIdleMs, by this dispatcher or another.
        if (running)
          log.warn({ err: error, partition, id }, 'delivering a stream entry failed; it will be retried');
      }
    })();
    inFlight.add(run);
    void run.finally(() => {
      inFlight.delete(run);
      release();
    });
  };

  const slotFree = async () => {
    while (running && holding >= options.concurrency) {
      await new Promise<void>((resolve) => slotWaiters.add(resolve));
    }
  };

  const readLoop = async ({ blocking, streams: mine }: (typeof readers)[number]) => {
    while (running) {
      try {
        await slotFree();
        if (!running) break;
        const reply = (await blocking.xreadgroup(
          'GROUP',
          DISPATCHERS_GROUP,
          consumer,
          'COUNT',
          // Several readers share the slots: each takes at most its share, so the entries read
          // but waiting for a slot stay few (they are pending, so claimed if this one dies).
          Math.max(1, Math.floor((options.concurrency - holding) / readers.length)),
          'BLOCK',
          options.blockMs,
          'STREAMS',
          ...mine,
          ...mine.map(() => '>'),
        )) as Array<[string, StreamEntry[]]> | null;
        for (const [stream, entries] of reply ?? []) {
          const partition = partitionOfStream.get(stream) as number;
          for (const entry of entries) {
            await slotFree();
            // Not delivered here: it stays pending and another dispatcher claims it.
            if (!running) break;
            deliver(partition, entry);
          }
        }
      } catch (error) {
        if (!running) break;
        if (error instanceof Error && error.message.includes('NOGROUP')) {
          // The streams or the group went away (a Redis restarted without persistence).
          await ensureDispatcherGroups(redis, keys).catch(() => undefined);
        } else {
          log.error(
            { err: error, streams: mine.length === 1 ? mine[0] : mine.length },
            'reading the event streams failed; retrying in 1 s',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  };

  /** Claims the entries pending too long on any consumer, or dead-letters those delivered too often. */
  const claimStale = async () => {
    for (const partition of keys.partitionNumbers) {
      const stream = keys.stream(partition);
      const stale = (await redis.xpending(
        stream,
        DISPATCHERS_GROUP,
        'IDLE',
        options.claimIdleMs,
        '-',
        '+',
        options.concurrency,
      )) as Array<[id: string, owner: string, idleMs: number, deliveries: number]>;
      for (const [id, , , deliveries] of stale) {
        if (!running) return;
        const claimed = (await redis.xclaim(
          stream,
          DISPATCHERS_GROUP,
          consumer,
          options.claimIdleMs,
          id,
        )) as StreamEntry[];
        // Another dispatcher claimed it first (or it was acknowledged or trimmed meanwhile).
        const entry = claimed[0];
        if (!entry || !entry[1]) continue;
        if (deliveries >= options.maxDeliveries) {
          const reason = `delivered ${deliveries} times without an acknowledgement`;
          log.error({ partition, id, deliveries }, 'stream entry moved to the dead stream');
          await deadLetter(partition, id, entry[1], reason);
          continue;
        }
        await slotFree();
        if (!running) return;
        log.warn(
          { partition, id, deliveries },
          'delivering a stream entry another dispatcher did not finish',
        );
        deliver(partition, entry);
      }
    }
  };

  /** Trims each stream below what every group acknowledged (never an unacknowledged entry). */
  const trim = async () => {
    for (const stream of streams) await trimAcknowledged(redis, stream);
  };

  const every = (ms: number, task: () => Promise<void>, what: string) => {
    let timer: NodeJS.Timeout | undefined;
    let current: Promise<void> = Promise.resolve();
    const tick = () => {
      current = task()
        .catch((error: unknown) => {
          if (running) log.warn({ err: error }, `${what} failed; trying again later`);
        })
        .finally(() => {
          if (running) timer = setTimeout(tick, ms);
        });
    };
    timer = setTimeout(tick, ms);
    return async () => {
      clearTimeout(timer);
      await current;
    };
  };

  const reading = Promise.all(readers.map(readLoop));
  // Half the idle time: a dead dispatcher's entries wait between 1× and 1.5× claimIdleMs.
  const stopClaiming = every(
    Math.max(100, Math.floor(options.claimIdleMs / 2)),
    claimStale,
    'claiming stale entries',
  );
  const stopTrimming = every(options.trimEveryMs, trim, 'trimming the event streams');

  return {
    readConnections: readers.length,
    async stop() {
      if (!running) return;
      running = false;
      wakeSlotWaiters();
      // A blocking XREADGROUP only returns after blockMs; disconnecting ends it at once.
      for (const { blocking } of readers) blocking.disconnect();
      await Promise.all([reading, stopClaiming(), stopTrimming()]);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
