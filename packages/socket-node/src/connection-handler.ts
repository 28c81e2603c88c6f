import type { RedisClient } from '@herald/core';
import type { Logger, RedisDeadline } from '@herald/core';
import { readLatestSeq, rememberEmail, type PresenceRegistry, type RedisKeys } from '@herald/core';
import { createClientEventListener } from './client-events.js';
import { createReplay } from './replay.js';
import type { ClientEventLimit } from './client-event-limit.js';
import type { HeraldSocket } from './types.js';

export interface ConnectionHandlerOptions {
  redis: RedisClient;
  /** Bounds every Redis call a device waits on (welcome, client events, sync). */
  deadline: RedisDeadline;
  /** Bytes a replay emits before it waits for them to be sent (see replay.ts). */
  replayChunkBytes: number;
  keys: RedisKeys;
  nodeId: string;
  presence: PresenceRegistry;
  logger: Logger;
  /** True once the node is shutting down; `close()` clears presence in bulk then. */
  isClosing: () => boolean;
  /** Per-socket rate limit on client events; absent = no limit. */
  clientEventLimit?: ClientEventLimit;
}

/** Waits for an operation already started at most as long as the deadline allows. */
function boundedWait<T>(deadline: RedisDeadline, started: Promise<T>, what: string): Promise<T> {
  // A rejection after the deadline gave up is not unhandled: the caller was told already.
  started.catch(() => undefined);
  return deadline(() => started, what);
}

/**
 * The `connection` listener. Runs only for sockets the handshake middleware
 * accepted (so `socket.data` is filled and rooms are joined). The listeners it
 * attaches are created once per node, not per socket, and none of them closes
 * over the handshake: a later issue measures heap per idle connection.
 */
export function createConnectionHandler(options: ConnectionHandlerOptions) {
  const { presence, logger: log } = options;
  const onClientEvent = createClientEventListener(options);
  const replay = createReplay(options);

  function onDisconnect(this: HeraldSocket): void {
    if (options.isClosing()) return;
    const { userId } = this.data;
    presence
      .remove(userId, this.id)
      .catch((error: unknown) => log.error({ err: error, userId }, 'removing presence failed'));
  }

  async function welcome(socket: HeraldSocket): Promise<void> {
    const { userId, email, acks, lastSeq } = socket.data;
    const { deadline } = options;
    // Under the deadline, so `authenticated` comes even if Redis left after the handshake.
    const [added, remembered, latest] = await Promise.allSettled([
      // Started whatever the deadline says: the registry keeps the entry, and the add or the
      // next heartbeat writes it once Redis is back.
      boundedWait(deadline, presence.add(userId, socket.id, acks === true), 'registering presence'),
      email
        ? deadline(() => rememberEmail(options.redis, options.keys, userId, email), 'remembering the email')
        : Promise.resolve(),
      // Read after the socket joined its room: anything sequenced later reaches it live.
      deadline(() => readLatestSeq(options.redis, options.keys, userId), 'reading the latest seq'),
    ]);
    // The entry stays in the registry's local map, so the next heartbeat writes it again.
    if (added.status === 'rejected') log.error({ err: added.reason, userId }, 'registering presence failed');
    if (remembered.status === 'rejected')
      log.warn({ err: remembered.reason, userId }, 'remembering the email failed');
    if (!socket.connected || options.isClosing()) {
      // It left (or we are closing) while Redis was answering: don't leave an entry behind.
      // Same connection as the add, so this runs after it.
      await presence.remove(userId, socket.id);
      return;
    }
    const seq = latest.status === 'fulfilled' ? latest.value : undefined;
    if (latest.status === 'rejected')
      log.warn({ err: latest.reason, userId }, 'reading the latest seq failed');
    socket.emit('authenticated', { success: true, userId, email, ...(seq === undefined ? {} : { seq }) });
    if (lastSeq !== undefined) {
      delete socket.data.lastSeq;
      await replay.replay(socket, lastSeq);
    }
  }

  return function onConnection(socket: HeraldSocket): void {
    socket.on('disconnect', onDisconnect);
    socket.onAny(onClientEvent);
    replay.listen(socket);
    welcome(socket).catch((error: unknown) =>
      log.error({ err: error, userId: socket.data.userId }, 'welcoming a socket failed'),
    );
  };
}
