import type { RedisClient } from '@herald/core';
import {
  HeraldErrorCode,
  InboxEntry,
  toHeraldError,
  describeIssues,
  protocolEventSchemas,
  toFieldIssues,
  type DeliveryMeta,
  type SyncAck,
} from '@herald/contracts';
import { readReplay, type Logger, type RedisDeadline, type RedisKeys } from '@herald/core';
import { createAckRecorder } from './ack-recorder.js';
import { whenSent } from './buffered-bytes-cap.js';
import type { HeraldSocket } from './types.js';

export interface ReplayOptions {
  redis: RedisClient;
  /** Bounds the inbox read, so a sync is answered `unavailable` while Redis is away. */
  deadline: RedisDeadline;
  /**
   * Bytes of inbox entries a replay emits before it waits for them to leave the process:
   * under the buffered-bytes cap, or a replay of a full inbox would cut the device.
   */
  replayChunkBytes: number;
  keys: RedisKeys;
  logger: Logger;
}

type Emit = (event: string, payload: unknown, meta: DeliveryMeta) => void;

/**
 * Replay, sync and acks for a node. `replay` sends a socket what its user's inbox holds
 * after a cursor: `herald:gap` first when the inbox no longer reaches back to the cursor,
 * then each entry with `replayed: true`, in seq order. The socket is already in its
 * user's room, so an event published while the inbox is read arrives live as well; the
 * client drops the copy by seq.
 *
 * The listeners are plain functions shared by every socket (`this` = the socket), so a
 * connection costs no closures.
 */
export function createReplay(options: ReplayOptions) {
  const { redis, deadline, keys, logger: log } = options;
  const acks = createAckRecorder(options);

  async function replay(
    socket: HeraldSocket,
    lastSeq: number,
  ): Promise<{ latest: number; replayed: number }> {
    const { userId } = socket.data;
    const { latest, gap, entries } = await deadline(
      () => readReplay(redis, keys, userId, lastSeq),
      'reading the inbox',
    );
    if (gap) socket.emit('herald:gap', gap);
    const emit = socket.emit.bind(socket) as unknown as Emit;
    let replayed = 0;
    let unsentBytes = 0;
    for (const raw of entries) {
      if (unsentBytes >= options.replayChunkBytes) {
        // Gone before the rest was sent: it replays from its own cursor when it comes back.
        if (!(await whenSent(socket))) break;
        unsentBytes = 0;
      }
      unsentBytes += raw.length;
      const parsed = InboxEntry.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        // Written by our own script; a bad entry means someone else wrote to the key.
        log.error(
          { userId, reason: describeIssues(toFieldIssues(parsed.error, 'entry')) },
          'skipping a bad inbox entry',
        );
        continue;
      }
      const { seq, id, event, ts, payload } = parsed.data;
      emit(event, payload, { id, seq, ts, replayed: true });
      replayed += 1;
    }
    if (gap || replayed > 0) log.debug({ userId, lastSeq, latest, gap, replayed }, 'replayed');
    return { latest, replayed };
  }

  function onAck(this: HeraldSocket, payload: unknown): void {
    const parsed = protocolEventSchemas['herald:ack'].safeParse(payload);
    if (!parsed.success) {
      this.emit('error', {
        code: HeraldErrorCode.invalidPayload,
        message: `Invalid herald:ack payload: ${describeIssues(toFieldIssues(parsed.error, 'payload'))}`,
      });
      return;
    }
    acks.add(this.data.userId, parsed.data.seq);
  }

  function onSync(this: HeraldSocket, payload: unknown, ack?: unknown): void {
    const answer = typeof ack === 'function' ? (ack as (result: SyncAck) => void) : undefined;
    const parsed = protocolEventSchemas['herald:sync'].safeParse(payload);
    if (!parsed.success) {
      const message = `Invalid herald:sync payload: ${describeIssues(toFieldIssues(parsed.error, 'payload'))}`;
      this.emit('error', { code: HeraldErrorCode.invalidPayload, message });
      answer?.({ accepted: false, code: HeraldErrorCode.invalidPayload, message });
      return;
    }
    replay(this, parsed.data.lastSeq).then(
      ({ latest, replayed }) => answer?.({ accepted: true, seq: latest, replayed }),
      (error: unknown) => {
        const unavailable = toHeraldError(error).code === HeraldErrorCode.unavailable;
        log[unavailable ? 'warn' : 'error']({ err: error, userId: this.data.userId }, 'sync failed');
        const code = unavailable ? HeraldErrorCode.unavailable : HeraldErrorCode.internal;
        const message = 'The server could not read the inbox: try again later.';
        this.emit('error', { code, message });
        answer?.({ accepted: false, code, message });
      },
    );
  }

  /**
   * Acks are taken by an any-listener, not `socket.on`: Socket.IO drops a packet for its
   * event listeners when the disconnect is read in the same chunk, but still hands it to
   * any-listeners, and the last ack a device sends before closing is the one that spares
   * its user an email.
   */
  function onAnyEvent(this: HeraldSocket, event: unknown, ...args: unknown[]): void {
    if (event === 'herald:ack') onAck.call(this, args[0]);
  }

  return {
    replay,
    /** Registers `herald:ack` and `herald:sync` on a connected socket. */
    listen(socket: HeraldSocket): void {
      socket.onAny(onAnyEvent);
      socket.on('herald:sync', onSync);
    },
  };
}
