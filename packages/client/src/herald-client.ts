import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  AuthenticatedPayload,
  DeliveryMeta,
  ErrorPayload,
  GapPayload,
  HeraldError,
  HeraldErrorCode,
  TokenExpiringPayload,
  describeIssues,
  toFieldIssues,
  toHeraldError,
  type Catalog,
  type ClientToServerEvents,
  type DefaultCatalog,
  type HeraldAuthAck,
  type ProtocolEventPayload,
  type ServerToClientEvents,
  type SyncAck,
} from '@herald/contracts';
import { AckBatcher, DEFAULT_ACK_BATCH_SIZE, DEFAULT_ACK_DELAY_MS } from './ack-batcher.js';
import { DEFAULT_STORAGE_KEY, readCursor, writeCursor, type CursorStorage } from './cursor-store.js';
import { DEFAULT_RECENT_IDS, Sequencer, type Cursor, type Delivery } from './sequencer.js';

/** Names of the app's events in catalog `C`. */
export type EventName<C extends Catalog = DefaultCatalog> = keyof C & string;

/** The payload of event `E` as a device receives it. */
export type EventPayload<C extends Catalog, E extends EventName<C>> = Parameters<
  ServerToClientEvents<C>[E]
>[0];

/** A handler of one app event: the payload exactly as published, and Herald's delivery metadata. */
export type EventHandler<C extends Catalog, E extends EventName<C>> = (
  payload: EventPayload<C, E>,
  meta: DeliveryMeta,
) => void | Promise<void>;

/** Removes the handler it was returned for. */
export type Unsubscribe = () => void;

/** The socket under the client, typed with the contracts' event maps. */
export type HeraldSocket<C extends Catalog = DefaultCatalog> = Socket<
  ServerToClientEvents<C>,
  ClientToServerEvents
>;

/** Where the client is in its connection's life. */
export type ConnectionStatus =
  | { state: 'connecting' }
  /** The node sent `authenticated`: events flow (replayed ones first). */
  | {
      state: 'connected';
      userId: string;
      email: string | null;
      /** The user's latest seq when this device connected, when the node sent it. */
      latestSeq: number | undefined;
      /** True when the client carried on from its cursor (it sent `lastSeq` and the node replays after it). */
      resumed: boolean;
    }
  /** Lost or refused; `willReconnect` is false only after `close()`. */
  | { state: 'disconnected'; reason: string; willReconnect: boolean }
  | { state: 'closed' };

/** Where a reported error came from. */
export type ClientErrorSource =
  /** A handshake the node refused, or a connection that failed; the client retries. */
  | 'connection'
  /** An `error` event from the node (something this client sent was refused). */
  | 'server'
  /** An app handler threw or rejected; the event counts as handled and the stream goes on. */
  | 'handler'
  /** `getToken()` failed, or the node refused the refreshed token. */
  | 'token'
  /** A `herald:sync` was refused or not answered in time. */
  | 'sync'
  /** The cursor could not be read from or written to `storage`. */
  | 'storage'
  /** The node sent something that does not follow the contracts (dropped). */
  | 'protocol';

/** One problem the client met and handled; `error.code` is the code to branch on. */
export interface ClientErrorReport {
  source: ClientErrorSource;
  error: HeraldError;
  /** The app event concerned, for `handler` and `protocol`. */
  event?: string;
  meta?: DeliveryMeta;
}

export interface HeraldClientOptions<C extends Catalog = DefaultCatalog> {
  /** A socket node (or the load balancer in front of them), e.g. `https://rt.example.com`. */
  url: string;
  /**
   * Returns a valid access token. Called on every connection attempt (the first and
   * each reconnect), so an expired token is replaced, and when the node warns that the
   * current one is about to expire (`herald:token_expiring`).
   */
  getToken: () => string | Promise<string>;
  /**
   * Where the replay cursor `{ userId, lastSeq }` is kept between sessions, e.g.
   * `localStorage`. @default in memory only (a new client starts at the user's latest seq)
   */
  storage?: CursorStorage;
  /** The key of the cursor in `storage`. @default 'herald:cursor' */
  storageKey?: string;
  /** The node's `WS_PATH`. @default '/socket.io/' */
  path?: string;
  /**
   * Socket.IO transports, in the order tried. Polling across several nodes needs sticky
   * sessions. @default socket.io-client's (`['polling', 'websocket']`, upgrading)
   */
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
  /**
   * How long a handled seq may wait to share its ack with the next ones. Keep it well under
   * the server's `HERALD_ACK_TIMEOUT_MS` (30 s): an event not acked by then may be emailed.
   * Pending acks go at once on `close()` and when the page is hidden. @default 5_000
   */
  ackDelayMs?: number;
  /** Handled seqs after which the ack goes out without waiting for `ackDelayMs`. @default 100 */
  ackBatchSize?: number;
  /**
   * How long to wait for a missing seq (events after it are held back meanwhile)
   * before asking the node for it with `herald:sync`. @default 300
   */
  reorderWaitMs?: number;
  /** How long to wait for the node's answer to `herald:sync` and `herald:auth`. @default 5_000 */
  requestTimeoutMs?: number;
  /** First delay before reconnecting; doubles per failed attempt, with jitter. @default 1_000 */
  reconnectDelayMs?: number;
  /** Longest delay between reconnection attempts. @default 10_000 */
  reconnectDelayMaxMs?: number;
  /** Ids of events without a seq (rooms, broadcast) remembered to drop repeats. @default 1_000 */
  dedupeWindow?: number;
  /**
   * The app's catalog (`extendCatalog(defaultCatalog, …)`): types `on()` and checks each
   * payload against its schema (a payload that fails is reported, not handed to handlers).
   * @default none: types come from the type parameter, payloads are not checked
   */
  catalog?: C;
  /**
   * More socket.io-client options (`extraHeaders` in Node, `withCredentials`…). The
   * client's own (`auth`, `path`, `transports`, reconnection, `autoConnect`) take precedence.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/** What the first `authenticated` said. */
export type Authenticated = AuthenticatedPayload;

export interface HeraldClient<C extends Catalog = DefaultCatalog> {
  /**
   * Handles app event `event`. Each event reaches handlers once, in seq order for the
   * user's own events; a handler that returns a promise is awaited before the next event
   * and before the event is acked. Returns a function that removes the handler.
   */
  on<E extends EventName<C>>(event: E, handler: EventHandler<C, E>): Unsubscribe;
  /**
   * Handles gaps: the user's events `fromSeq`..`toSeq` cannot be delivered (the node no
   * longer holds them); refetch from the app's own API. Called in stream order.
   */
  onGap(handler: (gap: GapPayload) => void | Promise<void>): Unsubscribe;
  /** Follows the connection status (`connecting`, `connected`, `disconnected`, `closed`). */
  onStatus(handler: (status: ConnectionStatus) => void): Unsubscribe;
  /** Receives every problem the client handled; without a listener they are dropped. */
  onError(handler: (report: ClientErrorReport) => void): Unsubscribe;
  /** Resolves on the first `authenticated`; rejects if the client is closed before. */
  readonly ready: Promise<Authenticated>;
  readonly status: ConnectionStatus;
  /** The last seq of `userId` the app finished handling (0 before any). */
  readonly lastSeq: number;
  /** The user of the cursor: from the last `authenticated`, or from `storage` until then. */
  readonly userId: string | undefined;
  /** The underlying socket, for what the client does not cover. Do not disconnect it; call `close()`. */
  readonly socket: HeraldSocket<C>;
  /**
   * Stops: no handler is called for what arrives afterwards, the last ack goes out
   * (the disconnect follows it by a few ms), and the client no longer reconnects.
   */
  close(): void;
}

/** Syncs for one missing seq before the client gives up on it and reports a gap. */
const MAX_SYNC_ATTEMPTS = 3;

/** How long `close()` leaves between the last ack and the disconnect. */
const CLOSE_AFTER_ACK_MS = 50;

/**
 * Calls `listener` when the page is hidden or unloaded, where there is a page (a browser);
 * returns what removes it. Elsewhere (Node.js) it does nothing.
 */
function onPageHide(listener: () => void): () => void {
  type Target = Partial<Pick<EventTarget, 'addEventListener' | 'removeEventListener'>>;
  const doc = (globalThis as { document?: Target & { visibilityState?: string } }).document;
  const win = globalThis as Target;
  if (typeof doc?.addEventListener !== 'function') return () => {};
  const onVisibility = () => {
    if (doc.visibilityState === 'hidden') listener();
  };
  doc.addEventListener('visibilitychange', onVisibility);
  // `pagehide` also fires for a page unloaded while visible (navigation, bfcache).
  win.addEventListener?.('pagehide', listener);
  return () => {
    doc.removeEventListener?.('visibilitychange', onVisibility);
    win.removeEventListener?.('pagehide', listener);
  };
}

/** Names the node sends that are not app events. Herald reserves the `herald:` prefix. */
function isProtocolEvent(event: string): boolean {
  return event === 'authenticated' || event === 'error' || event.startsWith('herald:');
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

const knownCodes = new Set<string>(Object.values(HeraldErrorCode));

/** A code the node sent, as one of ours (`internal` when it is not one). */
function asCode(code: unknown): HeraldErrorCode {
  return typeof code === 'string' && knownCodes.has(code)
    ? (code as HeraldErrorCode)
    : HeraldErrorCode.internal;
}

function checkNumber(name: string, value: number | undefined, fallback: number, min: number): number {
  const chosen = value ?? fallback;
  if (typeof chosen !== 'number' || !Number.isFinite(chosen) || chosen < min) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `HeraldClientOptions.${name} must be a number >= ${min}, got ${String(value)}`,
    );
  }
  return chosen;
}

/**
 * Connects to Herald and hands the user's events to handlers once each, in order,
 * acking them once handled and resuming from the last one after any reconnect.
 *
 * @example
 * const client = createHeraldClient({
 *   url: 'https://rt.example.com',
 *   getToken: () => auth.accessToken(),
 *   storage: localStorage,
 * });
 * client.on('notification:new', ({ notification }) => show(notification));
 * client.onGap(() => refetchNotifications());
 * await client.ready;
 */
export function createHeraldClient<C extends Catalog = DefaultCatalog>(
  options: HeraldClientOptions<C>,
): HeraldClient<C> {
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'HeraldClientOptions.url must be a non-empty string',
    );
  }
  if (typeof options.getToken !== 'function') {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'HeraldClientOptions.getToken must be a function returning the access token',
    );
  }
  const ackDelayMs = checkNumber('ackDelayMs', options.ackDelayMs, DEFAULT_ACK_DELAY_MS, 0);
  const ackBatchSize = checkNumber('ackBatchSize', options.ackBatchSize, DEFAULT_ACK_BATCH_SIZE, 1);
  const reorderWaitMs = checkNumber('reorderWaitMs', options.reorderWaitMs, 300, 0);
  const requestTimeoutMs = checkNumber('requestTimeoutMs', options.requestTimeoutMs, 5_000, 1);
  const reconnectDelayMs = checkNumber('reconnectDelayMs', options.reconnectDelayMs, 1_000, 1);
  const reconnectDelayMaxMs = checkNumber(
    'reconnectDelayMaxMs',
    options.reconnectDelayMaxMs,
    10_000,
    reconnectDelayMs,
  );
  const dedupeWindow = checkNumber('dedupeWindow', options.dedupeWindow, DEFAULT_RECENT_IDS, 1);
  const storage = options.storage;
  const storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
  const catalog = options.catalog;

  const handlers = new Map<string, Set<(payload: unknown, meta: DeliveryMeta) => unknown>>();
  const gapHandlers = new Set<(gap: GapPayload) => unknown>();
  const statusHandlers = new Set<(status: ConnectionStatus) => void>();
  const errorHandlers = new Set<(report: ClientErrorReport) => void>();

  function report(entry: ClientErrorReport): void {
    for (const handler of [...errorHandlers]) {
      try {
        handler(entry);
      } catch {
        // An error listener that throws has nowhere left to report to; the stream must go on.
      }
    }
  }

  function reportError(
    source: ClientErrorSource,
    code: HeraldErrorCode,
    message: string,
    extra: { cause?: unknown; event?: string; meta?: DeliveryMeta } = {},
  ): void {
    const error = new HeraldError(code, message, { cause: extra.cause });
    report({
      source,
      error,
      ...(extra.event === undefined ? {} : { event: extra.event }),
      ...(extra.meta === undefined ? {} : { meta: extra.meta }),
    });
  }

  /**
   * Reports a request the node did not answer within `requestTimeoutMs`, or refused;
   * true when it accepted.
   */
  function accepted<A extends { accepted: true } | { accepted: false; code: string; message: string }>(
    source: ClientErrorSource,
    request: string,
    refused: string,
    error: Error | null,
    answer: A,
  ): answer is Extract<A, { accepted: true }> {
    if (error) {
      reportError(
        source,
        HeraldErrorCode.internal,
        `${request} got no answer within ${requestTimeoutMs} ms`,
        {
          cause: error,
        },
      );
      return false;
    }
    if (!answer.accepted) {
      reportError(source, asCode(answer.code), `${refused}: ${answer.message}`);
      return false;
    }
    return true;
  }

  let storedCursor: Cursor | undefined;
  if (storage) {
    try {
      storedCursor = readCursor(storage, storageKey);
    } catch (error) {
      // Reported once listeners can be attached (a microtask later).
      queueMicrotask(() =>
        reportError('storage', HeraldErrorCode.invalidConfig, (error as Error).message, { cause: error }),
      );
    }
  }
  const sequencer = new Sequencer({
    recentIds: dedupeWindow,
    ...(storedCursor ? { cursor: storedCursor } : {}),
  });
  const acks = new AckBatcher({ delayMs: ackDelayMs, batchSize: ackBatchSize });
  acks.reset(sequencer.lastSeq);

  let status: ConnectionStatus = { state: 'connecting' };
  let closed = false;
  /** Bumped on every connect: answers that arrive for an older connection are ignored. */
  let connection = 0;
  /** This connection's `authenticated` arrived (acks and syncs may go out). */
  let anchored = false;
  let reconnectAttempts = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  let holeTimer: { timer: ReturnType<typeof setTimeout>; fromSeq: number } | undefined;
  /** The connection a `herald:sync` is in flight on. */
  let syncingOn: number | undefined;
  /** Syncs sent for the current hole (the one starting at `fromSeq`). */
  let syncAttempts = { fromSeq: 0, count: 0 };
  let pumping = false;
  let storageFailed = false;

  let resolveReady!: (value: Authenticated) => void;
  let rejectReady!: (error: unknown) => void;
  const ready = new Promise<Authenticated>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody has to await `ready`: closing before it settles must not be an unhandled rejection.
  ready.catch(() => undefined);

  const now = (): number => performance.now();

  function setStatus(next: ConnectionStatus): void {
    if (closed && next.state !== 'closed') return;
    status = next;
    for (const handler of [...statusHandlers]) {
      try {
        handler(next);
      } catch (error) {
        reportError('handler', HeraldErrorCode.internal, `A status listener threw: ${String(error)}`, {
          cause: error,
        });
      }
    }
  }

  function persist(): void {
    const cursor = sequencer.cursor();
    if (!storage || !cursor) return;
    try {
      writeCursor(storage, storageKey, cursor);
      storageFailed = false;
    } catch (error) {
      // Once per failing spell (a full quota fails on every write): the cursor stays in memory.
      if (!storageFailed) {
        storageFailed = true;
        reportError(
          'storage',
          HeraldErrorCode.internal,
          `Could not store the cursor under "${storageKey}" (${String(error)}); it is kept in memory.`,
          { cause: error },
        );
      }
    }
  }

  async function auth(send: (data: object) => void): Promise<void> {
    let token = '';
    try {
      token = await options.getToken();
    } catch (error) {
      // The handshake goes without a token: the node refuses it and the client retries with backoff.
      reportError(
        'token',
        HeraldErrorCode.missingToken,
        `getToken() failed: ${toHeraldError(error).message}`,
        {
          cause: error,
        },
      );
    }
    // Read after awaiting the token, so the cursor is as fresh as it gets.
    const cursor = sequencer.cursor();
    send({
      token,
      acks: true,
      ...(cursor ? { lastSeq: cursor.lastSeq, lastSeqUserId: cursor.userId } : {}),
    });
  }

  // Untyped inside: the client validates what arrives itself (the typed maps, generic over C,
  // do not resolve inside this function), and exposes the typed socket.
  const socket: Socket = io(options.url, {
    ...options.socketOptions,
    path: options.path ?? '/socket.io/',
    ...(options.transports ? { transports: options.transports } : {}),
    auth: (send) => void auth(send),
    autoConnect: false,
    forceNew: true,
    reconnection: true,
    reconnectionDelay: reconnectDelayMs,
    reconnectionDelayMax: reconnectDelayMaxMs,
  });

  // --- Reconnection the socket does not do by itself ------------------------------------

  /**
   * socket.io-client retries lost transports itself, but not a handshake the node refused
   * nor a disconnect the node decided (`socket.active` is false then): the token may have
   * expired, and `getToken()` on the next attempt fixes that.
   */
  function scheduleReconnect(): void {
    if (closed || reconnectTimer !== undefined || socket.active) return;
    const base = Math.min(reconnectDelayMaxMs, reconnectDelayMs * 2 ** reconnectAttempts);
    const delay = base * (0.5 + Math.random() * 0.5);
    reconnectAttempts++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!closed && !socket.active) socket.connect();
    }, delay);
  }

  // --- Acks ------------------------------------------------------------------------------

  function flushAcks(): void {
    if (ackTimer !== undefined) {
      clearTimeout(ackTimer);
      ackTimer = undefined;
    }
    // While disconnected nothing goes out (socket.io would buffer it); `authenticated` flushes again.
    if (closed || !anchored || !socket.connected) return;
    const decision = acks.decide(now());
    switch (decision.action) {
      case 'idle':
        return;
      case 'send':
        socket.emit('herald:ack', { seq: decision.seq } satisfies ProtocolEventPayload<'herald:ack'>);
        acks.sent(decision.seq, now());
        return;
      case 'wait':
        ackTimer = setTimeout(flushAcks, decision.ms);
        return;
    }
  }

  /** Sends the ack of everything handled now, without waiting for `ackDelayMs`; whether one went. */
  function ackNow(): boolean {
    if (!anchored || !socket.connected || acks.latest <= acks.acked) return false;
    if (ackTimer !== undefined) clearTimeout(ackTimer);
    ackTimer = undefined;
    socket.emit('herald:ack', { seq: acks.latest } satisfies ProtocolEventPayload<'herald:ack'>);
    acks.sent(acks.latest, now());
    return true;
  }

  // A page that is hidden may be closed next without `close()`: what it handled is acked now,
  // or its last `ackDelayMs` of events could be emailed to a user who saw them.
  const stopAckingOnPageHide = onPageHide(() => {
    if (!closed) ackNow();
  });

  // --- Missing seqs: wait, sync, then give up with a gap -------------------------------------

  function clearHoleTimer(): void {
    if (holeTimer) clearTimeout(holeTimer.timer);
    holeTimer = undefined;
  }

  /** Called after anything that may open or close a hole. */
  function watchHole(): void {
    if (syncingOn !== undefined) return;
    const hole = sequencer.hole();
    if (!hole) {
      clearHoleTimer();
      return;
    }
    if (holeTimer?.fromSeq === hole.fromSeq) return;
    clearHoleTimer();
    if (syncAttempts.fromSeq !== hole.fromSeq) syncAttempts = { fromSeq: hole.fromSeq, count: 0 };
    // Each sync that leaves the same hole doubles the wait, so a struggling node is not asked ever faster.
    const wait = reorderWaitMs * 2 ** syncAttempts.count;
    holeTimer = { fromSeq: hole.fromSeq, timer: setTimeout(() => sync(), wait) };
  }

  /**
   * Asks the node to replay after the start of the current hole, or, for a resync (the node
   * lost events meanwhile, `herald:resync`), after `after`: what the app has handled.
   */
  function sync(after?: number): void {
    holeTimer = undefined;
    const hole = sequencer.hole();
    const lastSeq = typeof after === 'number' ? after : hole ? hole.fromSeq - 1 : undefined;
    if (lastSeq === undefined || !anchored || !socket.connected) return;
    const on = connection;
    syncingOn = on;
    socket
      .timeout(requestTimeoutMs)
      .emit(
        'herald:sync',
        { lastSeq } satisfies ProtocolEventPayload<'herald:sync'>,
        (error: Error | null, answer: SyncAck) => {
          // A connection lost meanwhile is replayed from the cursor by the next handshake.
          if (on !== connection || syncingOn !== on) return;
          syncingOn = undefined;
          if (accepted('sync', 'herald:sync', 'herald:sync was refused', error, answer)) {
            // The node sent every event it had (and any herald:gap) before answering: what is
            // still missing up to its latest seq is gone. Later seqs may still be on their way.
            sequencer.skipMissing(answer.seq);
          }
          const still = sequencer.hole();
          if (hole && still?.fromSeq === hole.fromSeq && ++syncAttempts.count >= MAX_SYNC_ATTEMPTS) {
            // Stop holding the stream back: surface the gap and go on.
            sequencer.skipMissing();
          }
          void pump();
          watchHole();
        },
      );
  }

  // --- Handing deliveries to the app ---------------------------------------------------------

  async function dispatch(delivery: Delivery): Promise<void> {
    if (delivery.kind === 'gap') {
      const gap = { fromSeq: delivery.fromSeq, toSeq: delivery.toSeq };
      for (const handler of [...gapHandlers]) {
        try {
          const result = handler(gap);
          if (isPromiseLike(result)) await result;
        } catch (error) {
          reportError('handler', HeraldErrorCode.internal, `A gap handler threw: ${String(error)}`, {
            cause: error,
          });
        }
      }
      return;
    }
    const { event, payload, meta } = delivery;
    const listeners = handlers.get(event);
    if (!listeners || listeners.size === 0) return;
    const definition = catalog?.[event];
    if (definition) {
      const checked = definition.schema.safeParse(payload);
      if (!checked.success) {
        reportError(
          'protocol',
          HeraldErrorCode.invalidPayload,
          `${event} does not match the catalog: ${describeIssues(toFieldIssues(checked.error))}`,
          { event, meta },
        );
        return;
      }
    }
    for (const handler of [...listeners]) {
      try {
        const result = handler(payload, meta);
        // Awaited only when it is a promise, so synchronous handlers cost no extra tick.
        if (isPromiseLike(result)) await result;
      } catch (error) {
        reportError('handler', HeraldErrorCode.internal, `A handler of ${event} threw: ${String(error)}`, {
          cause: error,
          event,
          meta,
        });
      }
    }
  }

  /** Hands released deliveries to the app one at a time; each is acked once its handlers finished. */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      // After close() no handler runs; what was not handled is replayed to the next session.
      for (let delivery = sequencer.take(); delivery && !closed; delivery = sequencer.take()) {
        await dispatch(delivery);
        if (sequencer.handled(delivery)) {
          persist();
          acks.handled(sequencer.lastSeq, now());
          // A waiting timer already covers this seq, unless a full batch should go sooner.
          if (ackTimer === undefined || acks.latest - acks.acked >= ackBatchSize) flushAcks();
        }
      }
    } finally {
      pumping = false;
    }
  }

  function deliverReleased(): void {
    void pump();
    watchHole();
  }

  // --- The socket's events ------------------------------------------------------------------

  socket.on('connect', () => {
    connection++;
    anchored = false;
  });

  socket.on('authenticated', (raw: unknown) => {
    if (closed) return;
    const parsed = AuthenticatedPayload.safeParse(raw);
    if (!parsed.success) {
      reportError(
        'protocol',
        HeraldErrorCode.invalidPayload,
        `authenticated does not match the contracts: ${describeIssues(toFieldIssues(parsed.error))}`,
      );
      return;
    }
    const { userId, email, seq } = parsed.data;
    const before = sequencer.lastSeq;
    const result = sequencer.authenticated(userId, seq);
    if (result !== 'resumed') {
      // A cursor that starts over is not acked: this device handled none of what came before.
      acks.reset(sequencer.lastSeq);
      persist();
    }
    if (result === 'rewound') {
      reportError(
        'protocol',
        HeraldErrorCode.internal,
        `The node's latest seq for ${userId} is ${String(seq)}, below this device's cursor ${before}: its data was reset. Starting from ${String(seq)}; refetch what may be missing.`,
      );
    }
    anchored = true;
    reconnectAttempts = 0;
    setStatus({ state: 'connected', userId, email, latestSeq: seq, resumed: result === 'resumed' });
    resolveReady(parsed.data);
    deliverReleased();
    // An ack handled while disconnected, or sent just before the connection went, goes (again) now.
    flushAcks();
  });

  // The node's Redis subscription came back: events emitted meanwhile never reached it.
  socket.on('herald:resync', () => {
    if (closed || syncingOn !== undefined) return; // a sync in flight replays all after its start anyway
    clearHoleTimer();
    sync(sequencer.lastSeq);
  });

  socket.on('herald:gap', (raw: unknown) => {
    if (closed) return;
    const parsed = GapPayload.safeParse(raw);
    if (!parsed.success) {
      reportError(
        'protocol',
        HeraldErrorCode.invalidPayload,
        `herald:gap does not match the contracts: ${describeIssues(toFieldIssues(parsed.error))}`,
      );
      return;
    }
    sequencer.serverGap(parsed.data);
    deliverReleased();
  });

  socket.on('herald:token_expiring', (raw: unknown) => {
    if (!TokenExpiringPayload.safeParse(raw).success) {
      reportError(
        'protocol',
        HeraldErrorCode.invalidPayload,
        'herald:token_expiring does not match the contracts',
      );
    }
    void refreshToken(connection);
  });

  socket.on('error', (raw: unknown) => {
    const parsed = ErrorPayload.safeParse(raw);
    reportError(
      'server',
      asCode(parsed.success ? parsed.data.code : undefined),
      parsed.success ? parsed.data.message : `The node sent an error event: ${JSON.stringify(raw)}`,
    );
  });

  socket.onAny((event: string, ...args: unknown[]) => {
    if (closed || isProtocolEvent(event)) return;
    const parsed = DeliveryMeta.safeParse(args[1]);
    if (!parsed.success) {
      reportError(
        'protocol',
        HeraldErrorCode.invalidPayload,
        `${event} arrived without valid delivery metadata (${describeIssues(toFieldIssues(parsed.error))}); dropped`,
        { event },
      );
      return;
    }
    if (sequencer.receive(event, args[0], parsed.data) === 'duplicate') return;
    deliverReleased();
  });

  socket.on('disconnect', (reason) => {
    anchored = false;
    sequencer.disconnected();
    clearHoleTimer();
    syncingOn = undefined;
    if (ackTimer !== undefined) clearTimeout(ackTimer);
    ackTimer = undefined;
    setStatus({ state: 'disconnected', reason, willReconnect: !closed });
    if (reason === 'io server disconnect') scheduleReconnect();
  });

  socket.on('connect_error', (error: Error & { data?: unknown }) => {
    const data = error.data as { code?: unknown; message?: unknown } | undefined;
    reportError('connection', asCode(data?.code), error.message, { cause: error });
    if (status.state !== 'disconnected') {
      setStatus({ state: 'disconnected', reason: error.message, willReconnect: !closed });
    }
    // A refused handshake leaves the socket inactive: socket.io-client will not retry it.
    if (!socket.active) scheduleReconnect();
  });

  async function refreshToken(on: number): Promise<void> {
    let token: string;
    try {
      token = await options.getToken();
    } catch (error) {
      reportError(
        'token',
        HeraldErrorCode.tokenExpired,
        `getToken() failed while the token is expiring: ${toHeraldError(error).message}; the node will disconnect and the client reconnects with a new one.`,
        { cause: error },
      );
      return;
    }
    if (on !== connection || !socket.connected) return;
    socket
      .timeout(requestTimeoutMs)
      .emit(
        'herald:auth',
        { token } satisfies ProtocolEventPayload<'herald:auth'>,
        (error: Error | null, answer: HeraldAuthAck) => {
          accepted('token', 'herald:auth', 'The refreshed token was refused', error, answer);
        },
      );
  }

  socket.connect();

  return {
    on(event, handler) {
      let set = handlers.get(event);
      if (!set) handlers.set(event, (set = new Set()));
      const stored = handler as (payload: unknown, meta: DeliveryMeta) => unknown;
      set.add(stored);
      return () => void handlers.get(event)?.delete(stored);
    },
    onGap(handler) {
      gapHandlers.add(handler);
      return () => void gapHandlers.delete(handler);
    },
    onStatus(handler) {
      statusHandlers.add(handler);
      return () => void statusHandlers.delete(handler);
    },
    onError(handler) {
      errorHandlers.add(handler);
      return () => void errorHandlers.delete(handler);
    },
    ready,
    get status() {
      return status;
    },
    get lastSeq() {
      return sequencer.lastSeq;
    },
    get userId() {
      return sequencer.userId;
    },
    socket,
    close() {
      if (closed) return;
      closed = true;
      for (const timer of [reconnectTimer, ackTimer, holeTimer?.timer]) if (timer) clearTimeout(timer);
      reconnectTimer = ackTimer = holeTimer = undefined;
      stopAckingOnPageHide();
      if (ackNow()) {
        // Socket.IO servers drop an event whose dispatch is still pending when the disconnect
        // packet is read (both in one read): the disconnect goes a moment after the ack.
        setTimeout(() => socket.disconnect(), CLOSE_AFTER_ACK_MS);
      } else {
        socket.disconnect();
      }
      setStatus({ state: 'closed' });
      rejectReady(
        new HeraldError(HeraldErrorCode.internal, 'The client was closed before it was authenticated.'),
      );
    },
  };
}
