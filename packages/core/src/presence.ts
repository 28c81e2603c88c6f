import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

/** How long a presence entry lives without a heartbeat. A node killed without cleanup drops out after this. */
export const DEFAULT_PRESENCE_TTL_MS = 20_000;

/**
 * Reads presence from Redis: who is online on any node, and with how many devices.
 * A user is online while at least one of their entries has not expired.
 */
export class PresenceReader {
  constructor(
    protected readonly redis: Redis,
    protected readonly keys: RedisKeys,
  ) {}

  /** Number of connected devices of `userId`, across all nodes. */
  async devices(userId: string): Promise<number> {
    return this.redis.zcount(this.keys.presence(userId), Date.now(), '+inf');
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.devices(userId)) > 0;
  }

  /** The subset of `userIds` that is online, in one pipelined round trip. */
  async onlineAmong(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    for (const userId of userIds) pipeline.zcount(this.keys.presence(userId), now, '+inf');
    const results = (await pipeline.exec()) ?? [];
    const online = new Set<string>();
    results.forEach(([error, count], i) => {
      if (error) throw error;
      if (typeof count === 'number' && count > 0) online.add(userIds[i] as string);
    });
    return online;
  }
}

export interface PresenceRegistryOptions {
  redis: Redis;
  keys: RedisKeys;
  /** Identifies this node's entries, so a node can clear its own on shutdown. */
  nodeId: string;
  /** Entry lifetime without a heartbeat. Heartbeats run every third of it. @default 20_000 */
  ttlMs?: number;
}

/**
 * A socket node's side of presence: registers its sockets, refreshes them on a
 * heartbeat, removes them on disconnect and on shutdown. Entries are zset members
 * scored by expiry, so a node that dies without cleanup (SIGKILL) simply stops
 * refreshing and its users turn offline within `ttlMs`.
 */
export class PresenceRegistry extends PresenceReader {
  readonly ttlMs: number;
  private readonly nodeId: string;
  private readonly local = new Map<string, string>(); // socketId → userId
  private timer: NodeJS.Timeout | undefined;

  constructor(options: PresenceRegistryOptions) {
    super(options.redis, options.keys);
    this.ttlMs = options.ttlMs ?? DEFAULT_PRESENCE_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 1_000 || this.ttlMs > 3_600_000) {
      throw new RangeError(
        `PresenceRegistry: ttlMs must be an integer from 1000 to 3600000, got ${this.ttlMs}`,
      );
    }
    this.nodeId = options.nodeId;
  }

  private member(socketId: string): string {
    return `${this.nodeId}|${socketId}`;
  }

  async add(userId: string, socketId: string): Promise<void> {
    this.local.set(socketId, userId);
    const key = this.keys.presence(userId);
    await this.redis
      .multi()
      .zadd(key, Date.now() + this.ttlMs, this.member(socketId))
      .pexpire(key, this.ttlMs * 2)
      .exec();
  }

  async remove(userId: string, socketId: string): Promise<void> {
    this.local.delete(socketId);
    await this.redis.zrem(this.keys.presence(userId), this.member(socketId));
  }

  /** Refreshes every local entry and drops expired members, in one pipeline. */
  async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const now = Date.now();
    const expiry = now + this.ttlMs;
    const pipeline = this.redis.pipeline();
    const touched = new Set<string>();
    for (const [socketId, userId] of this.local) {
      const key = this.keys.presence(userId);
      pipeline.zadd(key, expiry, this.member(socketId));
      if (!touched.has(key)) {
        touched.add(key);
        pipeline.zremrangebyscore(key, '-inf', now);
        pipeline.pexpire(key, this.ttlMs * 2);
      }
    }
    await pipeline.exec();
  }

  /** Starts the heartbeat; `onError` hears about failed refreshes (Redis down) without stopping it. */
  startHeartbeat(onError: (error: unknown) => void): void {
    this.stopHeartbeat();
    this.timer = setInterval(
      () => {
        this.refresh().catch(onError);
      },
      Math.floor(this.ttlMs / 3),
    );
    this.timer.unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Removes every entry this node registered (graceful shutdown). */
  async clearLocal(): Promise<void> {
    this.stopHeartbeat();
    if (this.local.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [socketId, userId] of this.local)
      pipeline.zrem(this.keys.presence(userId), this.member(socketId));
    this.local.clear();
    await pipeline.exec();
  }

  /** Sockets registered by this node. */
  get localCount(): number {
    return this.local.size;
  }
}
