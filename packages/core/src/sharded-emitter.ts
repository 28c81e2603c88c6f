import type { Cluster, Redis } from 'ioredis';
import { heraldScript } from './herald-scripts.js';

/**
 * Event names Socket.IO keeps for itself: a socket would take them for its own
 * lifecycle, so they are never emitted (the same set as Socket.IO's emitter).
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

/** How `send` hands messages to Redis. */
export type ShardedBatching = 'script' | 'commands';

export interface ShardedEmitterOptions {
  /**
   * The `channelPrefix` the socket nodes give `createShardedAdapter`
   * (`keys.socketIoChannelPrefix`): the two must agree.
   */
  channelPrefix: string;
  /**
   * `script`: one script call per 500 messages, which SPUBLISHes them in order (one Redis
   * only). `commands`: one SPUBLISH per message, which a Redis Cluster client sends to the
   * node owning each channel's slot. @default 'commands' on a Cluster client, else 'script'
   */
  batching?: ShardedBatching;
}

/** The rooms (or none: everyone) one `emit` goes to. */
export interface ShardedBroadcast {
  /** Adds rooms (by name; never a socket id) to emit to; a socket in several of them gets the event once. */
  to(room: string | readonly string[]): ShardedBroadcast;
  /** Leaves out the sockets in these rooms. */
  except(room: string | readonly string[]): ShardedBroadcast;
  /** Collects the event for every socket of the namespace `/` in the rooms (all, without `to`); `send` sends it. */
  emit(event: string, ...args: unknown[]): void;
}

export interface ShardedEmitter extends ShardedBroadcast {
  /**
   * Sends what was emitted since the last `send`, in emit order, and resolves once Redis
   * took every message; rejects if any was not taken. Nothing is sent before it.
   */
  send(): Promise<void>;
}

/** The namespace Herald's sockets live in. */
const NSP = '/';
/** `uid` of messages that come from no node; the cluster adapter knows it (`EMITTER_UID`). */
const EMITTER_UID = 'emitter';
/** socket.io-adapter's `MessageType.BROADCAST` and socket.io-parser's `PacketType.EVENT`. */
const BROADCAST = 3;
const EVENT_PACKET = 2;

/** Pairs per script call: one call holds Redis for about a microsecond per SPUBLISH, so big fan-outs are split. */
const PAIRS_PER_CALL = 500;

/** The sharded channel one room's sockets are reached on (the adapter's `dynamicChannel`). */
export function roomChannel(channelPrefix: string, room: string): string {
  return `${channelPrefix}#${NSP}#${room}#`;
}

/** The namespace's channel, which every node subscribes to. */
export function namespaceChannel(channelPrefix: string): string {
  return `${channelPrefix}#${NSP}#`;
}

/**
 * One room: its own channel. The adapter itself sends a room of 20 characters (the length
 * of a socket id, whose room has no channel of its own) on the namespace channel instead;
 * not mirrored here, as a process outside the servers never knows a socket id, and every
 * room it names is public, subscribed by its name whatever its length. So `user:` and a
 * 15-character id reach only the nodes holding that user, like any other room.
 */
function channelFor(channelPrefix: string, rooms: readonly string[]): string {
  const only = rooms.length === 1 ? rooms[0] : undefined;
  return only === undefined ? namespaceChannel(channelPrefix) : roomChannel(channelPrefix, only);
}

function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * Reaches the sockets of Socket.IO servers that use `createShardedAdapter` from
 * `@socket.io/redis-adapter` (in `dynamic` mode), from a process that runs no server:
 * the sharded counterpart of `@socket.io/redis-emitter`, which speaks only classic
 * PUBLISH. Each emit to one room becomes one SPUBLISH on that room's channel, so only
 * the nodes holding a socket in the room receive it; an emit to everyone or to several
 * rooms goes on the namespace channel, to every node. Messages are the adapter's own
 * (a `BROADCAST` cluster message, as JSON): arguments must be JSON values, as Herald's
 * payloads are (no binary).
 *
 * Emits are collected and go out at `send`, in as few round trips as the Redis allows:
 *
 * - one Redis: one script call per 500 messages. Each command costs the sending process a
 *   command object, a promise and a reply to parse; with one message per online user that
 *   was the largest part of a dispatcher's time per event.
 * - Redis Cluster: one SPUBLISH per message. A sharded channel lives on the node owning its
 *   slot, and a script may touch only its own node's slots (Redis refuses the rest with
 *   "Script attempted to access a non local key"), and only one slot when the channels are
 *   declared as keys (`CROSSSLOT`). With room channels spread over the slots, a script per
 *   slot is a call per message anyway; ioredis's cluster client pipelines the SPUBLISHes
 *   per node instead.
 *
 * @example
 * const emitter = createShardedEmitter(redis, { channelPrefix: keys.socketIoChannelPrefix });
 * emitter.to(userRoom(userId)).emit('xp:gained', payload, meta);
 * emitter.emit('leaderboard:updated', payload, meta); // every socket of `/`
 * await emitter.send(); // the job may complete once Redis took them all
 */
export function createShardedEmitter(redis: Redis | Cluster, options: ShardedEmitterOptions): ShardedEmitter {
  const { channelPrefix } = options;
  if (typeof channelPrefix !== 'string' || channelPrefix.length === 0) {
    throw new RangeError('ShardedEmitterOptions.channelPrefix must be a non-empty string');
  }
  const batching = options.batching ?? (isCluster(redis) ? 'commands' : 'script');
  if (batching !== 'script' && batching !== 'commands') {
    throw new RangeError(
      `ShardedEmitterOptions.batching must be 'script' or 'commands', got ${String(batching)}`,
    );
  }
  if (batching === 'script' && isCluster(redis)) {
    throw new RangeError(
      "ShardedEmitterOptions.batching 'script' needs a single Redis: on Redis Cluster a script cannot SPUBLISH channels of other nodes' slots",
    );
  }
  const spublishAll = batching === 'script' ? heraldScript(redis, 'heraldSpublishAll') : undefined;

  /** Channel, message, channel, message… in emit order. */
  let pending: string[] = [];

  const broadcast = (rooms: readonly string[], except: readonly string[]): ShardedBroadcast => ({
    to: (room) => broadcast([...rooms, ...(typeof room === 'string' ? [room] : room)], except),
    except: (room) => broadcast(rooms, [...except, ...(typeof room === 'string' ? [room] : room)]),
    emit(event, ...args) {
      if (RESERVED_EVENTS.has(event)) throw new Error(`"${event}" is a reserved event name`);
      const unique = rooms.length > 1 ? [...new Set(rooms)] : rooms;
      const message = {
        type: BROADCAST,
        data: {
          packet: { type: EVENT_PACKET, data: [event, ...args], nsp: NSP },
          opts: { rooms: unique, except, flags: {} },
        },
        uid: EMITTER_UID,
        nsp: NSP,
      };
      pending.push(channelFor(channelPrefix, unique), JSON.stringify(message));
    },
  });
  const everyone = broadcast([], []);

  return {
    ...everyone,
    async send() {
      const pairs = pending;
      pending = [];
      if (pairs.length === 0) return;
      if (batching === 'commands' || pairs.length === 2) {
        const sent: Array<Promise<unknown>> = [];
        for (let i = 0; i < pairs.length; i += 2)
          sent.push(redis.spublish(pairs[i] as string, pairs[i + 1] as string));
        await Promise.all(sent);
        return;
      }
      if (!spublishAll) throw new Error('unreachable: script batching without its script');
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < pairs.length; i += 2 * PAIRS_PER_CALL) {
        calls.push(spublishAll(...pairs.slice(i, i + 2 * PAIRS_PER_CALL)));
      }
      await Promise.all(calls);
    },
  };
}
