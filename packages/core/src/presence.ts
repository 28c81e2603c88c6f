import type { RedisClient } from './redis-client.js';
import { groupByPartition, type RedisKeys } from './keys.js';

/** How long a presence entry lives without a heartbeat. A node killed without cleanup drops out after this. */
export const DEFAULT_PRESENCE_TTL_MS = 20_000;

/** The online devices of one user, split by whether they send acks. */
export interface UserDevices {
  devices: number;
  /**
   * Devices that do not ack (plain socket.io clients), member → expiry of its entry (ms).
   * What is emitted while one is connected counts as delivered to it; the expiry tells
   * later whether its node was still alive (it moves on with every heartbeat).
   */
  plain: Record<string, number>;
}

/** Presence members end with the device's kind: `a` acks, `p` does not. */
const PLAIN_SUFFIX = '|p';

/** Sorts a user's live presence entries (ZRANGEBYSCORE now +inf WITHSCORES: member, score, …) by kind. */
export function countDevices(withScores: readonly string[]): UserDevices {
  const plain: Record<string, number> = {};
  for (let i = 0; i + 1 < withScores.length; i += 2) {
    const member = withScores[i] as string;
    if (member.endsWith(PLAIN_SUFFIX)) plain[member] = Number(withScores[i + 1]);
  }
  return { devices: Math.floor(withScores.length / 2), plain };
}

/** Whether a user has a plain device online. */
export function hasPlainDevice(found: UserDevices | undefined): boolean {
  return found !== undefined && Object.keys(found.plain).length > 0;
}

/**
 * Reads presence from Redis: who is online on any node, and with how many devices.
 * A user is online while at least one of their entries has not expired.
 */
export class PresenceReader {
  constructor(
    protected readonly redis: RedisClient,
    protected readonly keys: RedisKeys,
  ) {}

  /** Number of connected devices of `userId`, across all nodes. */
  async devices(userId: string): Promise<number> {
    return this.redis.zcount(this.keys.presence(userId), Date.now(), '+inf');
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.devices(userId)) > 0;
  }

  /** The subset of `userIds` that is online, in one pipelined round trip per partition (sent together). */
  async onlineAmong(userIds: readonly string[]): Promise<Set<string>> {
    const now = Date.now();
    const counts = await this.perUser(userIds, (pipeline, key) => pipeline.zcount(key, now, '+inf'));
    const online = new Set<string>();
    for (const [userId, count] of counts) if (typeof count === 'number' && count > 0) online.add(userId);
    return online;
  }

  /** The online devices of each of `userIds` that has any, split by kind, in one pipelined round trip per partition. */
  async devicesAmong(userIds: readonly string[]): Promise<Map<string, UserDevices>> {
    const now = Date.now();
    const entries = await this.perUser(userIds, (pipeline, key) =>
      pipeline.zrangebyscore(key, now, '+inf', 'WITHSCORES'),
    );
    const found = new Map<string, UserDevices>();
    for (const userId of userIds) {
      const members = entries.get(userId);
      if (Array.isArray(members) && members.length > 0) found.set(userId, countDevices(members as string[]));
    }
    return found;
  }

  /**
   * Runs one command per user on its presence key, one pipeline per partition: on Redis
   * Cluster a pipeline must stay on one master, and a partition is one slot.
   */
  private async perUser(
    userIds: readonly string[],
    add: (pipeline: ReturnType<RedisClient['pipeline']>, key: string) => unknown,
  ): Promise<Map<string, unknown>> {
    const replies = new Map<string, unknown>();
    await Promise.all(
      [...groupByPartition(this.keys, new Set(userIds), (userId) => userId).values()].map(async (group) => {
        const pipeline = this.redis.pipeline();
        for (const userId of group) add(pipeline, this.keys.presence(userId));
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([error, reply], i) => {
          if (error) throw error;
          replies.set(group[i] as string, reply);
        });
      }),
    );
    return replies;
  }
}

export interface PresenceRegistryOptions {
  redis: RedisClient;
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
  private readonly local = new Map<string, { userId: string; member: string }>(); // by socketId
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

  /**
   * Registers a connected device. `acks`: the device sends `herald:ack`, so its user's
   * fallback waits for an ack rather than counting whatever was emitted as delivered.
   */
  async add(userId: string, socketId: string, acks = false): Promise<void> {
    const member = `${this.nodeId}|${socketId}|${acks ? 'a' : 'p'}`;
    this.local.set(socketId, { userId, member });
    const key = this.keys.presence(userId);
    await this.redis
      .multi()
      .zadd(key, Date.now() + this.ttlMs, member)
      .pexpire(key, this.ttlMs * 2)
      .exec();
  }

  async remove(userId: string, socketId: string): Promise<void> {
    const entry = this.local.get(socketId);
    if (entry === undefined) return;
    this.local.delete(socketId);
    await this.redis.zrem(this.keys.presence(userId), entry.member);
  }

  /** Refreshes every local entry and drops expired members, one pipeline per partition (one slot on a cluster). */
  async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const now = Date.now();
    const expiry = now + this.ttlMs;
    const groups = groupByPartition(this.keys, this.local.values(), (entry) => entry.userId);
    await Promise.all(
      [...groups.values()].map((group) => {
        const pipeline = this.redis.pipeline();
        const touched = new Set<string>();
        for (const { userId, member } of group) {
          const key = this.keys.presence(userId);
          pipeline.zadd(key, expiry, member);
          if (!touched.has(key)) {
            touched.add(key);
            pipeline.zremrangebyscore(key, '-inf', now);
            pipeline.pexpire(key, this.ttlMs * 2);
          }
        }
        return pipeline.exec();
      }),
    );
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

  /** Removes every entry this node registered (graceful shutdown), one pipeline per partition. */
  async clearLocal(): Promise<void> {
    this.stopHeartbeat();
    if (this.local.size === 0) return;
    const groups = groupByPartition(this.keys, this.local.values(), (entry) => entry.userId);
    this.local.clear();
    await Promise.all(
      [...groups.values()].map((group) => {
        const pipeline = this.redis.pipeline();
        for (const { userId, member } of group) pipeline.zrem(this.keys.presence(userId), member);
        return pipeline.exec();
      }),
    );
  }

  /** Sockets registered by this node. */
  get localCount(): number {
    return this.local.size;
  }
}
