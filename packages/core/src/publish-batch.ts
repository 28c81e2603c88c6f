import type { Redis } from 'ioredis';
import type { PublishClient } from './publish-tracker.js';

/** PUBLISHes each (channel, message) pair of ARGV, in order; returns how many it sent. */
const PUBLISH_ALL_SCRIPT = `
for i = 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
`;

/** Pairs per script call: one call holds Redis for about a microsecond per PUBLISH, so big fan-outs are split. */
const PAIRS_PER_CALL = 500;

export interface PublishBatch {
  /** Pass this to `new Emitter(batch.client, …)`: it collects the PUBLISHes instead of sending them. */
  client: PublishClient;
  /** Sends what was collected since the last `send`, in order, and resolves once Redis ran it; rejects if it failed. */
  send(): Promise<void>;
}

type PublishAll = (...args: Array<string | Buffer>) => Promise<number>;

/**
 * Collects the PUBLISHes `@socket.io/redis-emitter` makes for one job and sends them as
 * one script call (`send`) instead of one command each. The messages are the emitter's
 * own, so subscribers (the socket nodes' Redis adapter) see exactly what they would have.
 * Each command costs the sending process an ioredis command object, a promise and a reply
 * to parse; with one PUBLISH per online user that was the largest part of a dispatcher's
 * time per event. The emitter drops the promise `publish` returns, which is why nothing is
 * sent before `send`: its result is the one to await before a job may complete.
 */
export function batchPublishes(redis: Redis): PublishBatch {
  const commands = redis as unknown as Record<string, unknown>;
  if (typeof commands.heraldPublishAll !== 'function') {
    redis.defineCommand('heraldPublishAll', { numberOfKeys: 0, lua: PUBLISH_ALL_SCRIPT });
  }
  const publishAll = (commands.heraldPublishAll as PublishAll).bind(redis);
  let pending: Array<string | Buffer> = [];
  return {
    client: {
      publish(channel, message) {
        pending.push(channel, message);
        return Promise.resolve(0);
      },
    },
    async send() {
      const pairs = pending;
      pending = [];
      if (pairs.length === 0) return;
      if (pairs.length === 2) {
        await redis.publish(pairs[0] as string, pairs[1] as string | Buffer);
        return;
      }
      const calls: Array<Promise<number>> = [];
      for (let i = 0; i < pairs.length; i += 2 * PAIRS_PER_CALL) {
        calls.push(publishAll(...pairs.slice(i, i + 2 * PAIRS_PER_CALL)));
      }
      await Promise.all(calls);
    },
  };
}
