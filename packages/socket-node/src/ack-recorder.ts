import type { RedisClient } from '@herald/core';
import { recordAcks, type Logger, type RedisKeys } from '@herald/core';

export interface AckRecorderOptions {
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
}

export interface AckRecorder {
  /** Takes a device's cumulative ack; it reaches Redis with the others of this tick. */
  add(userId: string, seq: number): void;
}

/**
 * Gathers the acks a node receives and writes them in one script call per tick instead of
 * one per ack: with devices acking about once per event, per-ack calls cost the node and
 * Redis about as much as delivering the event. Acks are cumulative, so only the highest
 * per user is kept; if a write fails, the device's next ack carries it again.
 */
export function createAckRecorder(options: AckRecorderOptions): AckRecorder {
  let pending = new Map<string, number>();
  let scheduled = false;

  const write = async (): Promise<void> => {
    scheduled = false;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await recordAcks(options.redis, options.keys, batch);
    } catch (error) {
      options.logger.warn(
        { err: error, users: batch.size },
        'recording acks failed; the next acks carry them again',
      );
    }
  };

  return {
    add(userId, seq) {
      if (seq > (pending.get(userId) ?? -1)) pending.set(userId, seq);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void write());
      }
    },
  };
}
