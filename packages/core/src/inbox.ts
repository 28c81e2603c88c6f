import type { ChainableCommander } from 'ioredis';
import type { Redis } from './redis.js';
import type { RedisKeys } from './keys.js';
import { countDevices, type UserDevices } from './presence.js';

/**
 * Each user's sequence, inbox and acks. Every user-targeted event gets the user's next
 * `seq` (1, 2, 3, … with no holes) and is appended to the user's inbox, a Redis list
 * (oldest first) capped at `inboxMax` entries and expiring `inboxTtlS` after the last
 * append. The counter and the acked seq live in the user's hash (`{p}:user:{id}`), which
 * does not expire: a counter that started over would make devices drop new events as
 * already seen. Because entries are appended in seq order and trimmed from the head,
 * the list's last entry always has seq = the counter, and entry `i` of a list of `n`
 * has seq `counter - n + 1 + i`.
 */

/** How long a (event id, part) record stands: publishing the same event id again within this window delivers once. */
export const EVENT_RECORD_TTL_S = 24 * 60 * 60;

/**
 * Sequences a batch of events, run inside the MULTI that adds their events jobs, so an
 * event is either sequenced, in the inbox and queued, or none of these.
 *
 * KEYS, per item: its record key, then per user: the user's hash, the user's inbox.
 * ARGV: inboxMax, inboxTtlS, recordTtlS, then per item: job id, user count, entry tail
 * (the entry's JSON without its opening brace and seq).
 *
 * An item whose record exists was published before (same event id, same part): it gets
 * no seq and no inbox entry, and its record keeps naming the job that delivers it.
 */
const SEQUENCE_SCRIPT = `
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local recordTtl = tonumber(ARGV[3])
local k = 1
local a = 4
local out = {}
while a <= #ARGV do
  local jobId = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  local tail = ARGV[a + 2]
  a = a + 3
  local record = KEYS[k]
  k = k + 1
  if redis.call('EXISTS', record) == 1 then
    k = k + 2 * n
    out[#out + 1] = 0
  else
    local seqs = {}
    for j = 1, n do
      local seq = redis.call('HINCRBY', KEYS[k], 'seq', 1)
      local inbox = KEYS[k + 1]
      if redis.call('RPUSH', inbox, '{"seq":' .. seq .. ',' .. tail) > max then
        redis.call('LTRIM', inbox, -max, -1)
      end
      redis.call('EXPIRE', inbox, ttl)
      seqs[j] = seq
      k = k + 2
    end
    redis.call('HSET', record, 'job', jobId, 'seqs', table.concat(seqs, ','))
    redis.call('EXPIRE', record, recordTtl)
    out[#out + 1] = 1
  end
end
return out
`;

/**
 * Reads what a device with cursor `lastSeq` missed. KEYS: the user's hash, inbox.
 * ARGV: lastSeq. Returns { latest seq, seq of the inbox's first entry, entries after lastSeq… }.
 */
const REPLAY_SCRIPT = `
local top = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local last = tonumber(ARGV[1])
local len = redis.call('LLEN', KEYS[2])
local first = top - len + 1
if last >= top then return { top, first } end
local from = last + 1
if from < first then from = first end
local out = redis.call('LRANGE', KEYS[2], from - first, -1)
table.insert(out, 1, first)
table.insert(out, 1, top)
return out
`;

/**
 * For each user hash KEYS[i], raises its acked seq to ARGV[i] (never lowers it, never
 * above the latest seq, so an ack cannot create the hash of a user who has no events).
 * Returns the acked seqs, in order. One call carries the acks of many users.
 */
const ACK_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local seq = tonumber(ARGV[i])
  local values = redis.call('HMGET', key, 'seq', 'ack')
  local top = tonumber(values[1] or '0')
  local current = tonumber(values[2] or '0')
  if seq > top then seq = top end
  if seq > current then
    redis.call('HSET', key, 'ack', seq)
    current = seq
  end
  out[i] = current
end
return out
`;

/**
 * What an events job needs before it emits, in one call: KEYS = the record of each of its
 * (event id, part) pairs (ARGV[1] of them), then the presence zset of each of its users.
 * ARGV[2] = now (ms). Returns { job, seqs } per record (false where there is none), then
 * per user the live entries (score ≥ now) as member, score, …
 */
const DELIVERY_STATE_SCRIPT = `
local records = tonumber(ARGV[1])
local now = ARGV[2]
local out = {}
for i = 1, records do
  out[i] = redis.call('HMGET', KEYS[i], 'job', 'seqs')
end
for i = records + 1, #KEYS do
  out[i] = redis.call('ZRANGEBYSCORE', KEYS[i], now, '+inf', 'WITHSCORES')
end
return out
`;

type ScriptCommand = (...args: Array<string | number>) => Promise<unknown>;

const SCRIPTS = {
  heraldSequence: SEQUENCE_SCRIPT,
  heraldReplay: REPLAY_SCRIPT,
  heraldAck: ACK_SCRIPT,
  heraldDeliveryState: DELIVERY_STATE_SCRIPT,
} as const;
type ScriptName = keyof typeof SCRIPTS;

/**
 * Defines Herald's inbox scripts on a connection (ioredis `defineCommand`: EVALSHA, with
 * the script sent again only when Redis lost it, as after a restart), once per connection.
 * Pipelines and MULTIs created from the connection afterwards have them too.
 */
export function defineInboxCommands(redis: Redis): void {
  const commands = redis as unknown as Record<string, unknown>;
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua });
  }
}

function command(target: Redis | ChainableCommander, name: ScriptName): ScriptCommand {
  // A connection gets the scripts on first use; a MULTI only has what its connection had when it was made.
  if (typeof (target as Partial<Redis>).defineCommand === 'function') defineInboxCommands(target as Redis);
  const fn = (target as unknown as Record<string, ScriptCommand | undefined>)[name];
  if (typeof fn !== 'function') {
    throw new Error(
      `${name} is not defined on this MULTI's connection: call defineInboxCommands on it first`,
    );
  }
  return fn.bind(target);
}

/** One event to sequence: its record, the users it goes to and what their inbox entry holds. */
export interface SequenceItem {
  eventId: string;
  part: number;
  /** The events job that carries it; the dispatcher delivers it only from that job. */
  jobId: string;
  /** Empty for rooms and broadcast: they are recorded (delivered once) but have no seq. */
  userIds: readonly string[];
  event: string;
  payload: unknown;
  /** `payload` as JSON when the caller has it already (the publisher measured it); saves serializing it again. */
  payloadJson?: string | undefined;
  publishedAt: number;
}

export interface InboxSettings {
  /** Entries kept per user. */
  inboxMax: number;
  /** Seconds an inbox lives after its last append. */
  inboxTtlS: number;
}

/**
 * An inbox entry without its opening `{"seq":N,` (the script prepends that per user):
 * the JSON of `{ id, event, ts, payload }` after its opening brace. The payload's JSON is
 * spliced in when the caller has it, which is the same text `JSON.stringify` would make.
 */
export function entryTail(item: SequenceItem): string {
  if (item.payloadJson === undefined) {
    return JSON.stringify({
      id: item.eventId,
      event: item.event,
      ts: item.publishedAt,
      payload: item.payload,
    }).slice(1);
  }
  return `"id":${JSON.stringify(item.eventId)},"event":${JSON.stringify(item.event)},"ts":${JSON.stringify(item.publishedAt)},"payload":${item.payloadJson}}`;
}

/**
 * Queues the sequencing of `items` on `multi` (which must come from a connection that
 * ran `defineInboxCommands`). Its result, in the MULTI's results, is 1 per item sequenced
 * and 0 per item already published.
 */
export function queueSequencing(
  multi: ChainableCommander,
  keys: RedisKeys,
  items: readonly SequenceItem[],
  settings: InboxSettings,
): void {
  const redisKeys: string[] = [];
  const args: Array<string | number> = [settings.inboxMax, settings.inboxTtlS, EVENT_RECORD_TTL_S];
  for (const item of items) {
    redisKeys.push(keys.eventRecord(item.eventId, item.part));
    for (const userId of item.userIds) redisKeys.push(keys.user(userId), keys.inbox(userId));
    args.push(item.jobId, item.userIds.length, entryTail(item));
  }
  void command(multi, 'heraldSequence')(redisKeys.length, ...redisKeys, ...args);
}

/** What an events job finds about one of its (event id, part) pairs. */
export interface EventRecord {
  /** The job that delivers it; another job carrying it (a republish) skips it. */
  jobId: string;
  /** The seq of each of the item's users, in the order of its user ids. */
  seqs: number[];
}

/** Reads the record of each (event id, part); null where there is none (expired, or never sequenced). */
export async function readEventRecords(
  redis: Redis,
  keys: RedisKeys,
  refs: ReadonlyArray<{ eventId: string; part: number }>,
): Promise<Array<EventRecord | null>> {
  return (await readDeliveryState(redis, keys, refs, [])).records;
}

/** The records of an events job's pairs and the presence of its users, read in one round trip. */
export interface DeliveryState {
  /** Per (event id, part), in order: its record, or null (expired, or never sequenced). */
  records: Array<EventRecord | null>;
  /** The users that have a live presence entry, with their devices. */
  devices: Map<string, UserDevices>;
}

/**
 * Reads, in one script call, what `readEventRecords` and `PresenceReader.devicesAmong`
 * read with one command per pair and per user. On a busy dispatcher the client-side cost
 * of each command (an ioredis command object, its promise, its reply) was most of the
 * time spent per event; one call with many keys costs a fraction of that.
 */
export async function readDeliveryState(
  redis: Redis,
  keys: RedisKeys,
  refs: ReadonlyArray<{ eventId: string; part: number }>,
  userIds: readonly string[],
  now = Date.now(),
): Promise<DeliveryState> {
  const redisKeys = refs.map((ref) => keys.eventRecord(ref.eventId, ref.part));
  for (const userId of userIds) redisKeys.push(keys.presence(userId));
  if (redisKeys.length === 0) return { records: [], devices: new Map() };
  const reply = (await command(redis, 'heraldDeliveryState')(
    redisKeys.length,
    ...redisKeys,
    refs.length,
    now,
  )) as Array<Array<string | null>>;
  const records = refs.map((_, i) => {
    const [jobId, seqs] = reply[i] ?? [];
    if (jobId === null || jobId === undefined) return null;
    return { jobId, seqs: seqs ? seqs.split(',').map(Number) : [] };
  });
  const devices = new Map<string, UserDevices>();
  userIds.forEach((userId, i) => {
    const entries = reply[refs.length + i] as string[] | undefined;
    if (entries && entries.length > 0) devices.set(userId, countDevices(entries));
  });
  return { records, devices };
}

/** What a device with a given cursor missed. */
export interface Replay {
  /** The user's latest seq. */
  latest: number;
  /** Seqs after the cursor the inbox no longer holds: replay cannot bring them back. */
  gap: { fromSeq: number; toSeq: number } | null;
  /** Raw inbox entries (JSON of `InboxEntry`) after the cursor, oldest first. */
  entries: string[];
}

/** Reads, atomically, what a device that has everything up to `lastSeq` is missing. */
export async function readReplay(
  redis: Redis,
  keys: RedisKeys,
  userId: string,
  lastSeq: number,
): Promise<Replay> {
  const reply = (await command(redis, 'heraldReplay')(2, keys.user(userId), keys.inbox(userId), lastSeq)) as [
    number,
    number,
    ...string[],
  ];
  const [latest, first, ...entries] = reply;
  const gap = lastSeq + 1 < first && lastSeq < latest ? { fromSeq: lastSeq + 1, toSeq: first - 1 } : null;
  return { latest, gap, entries };
}

/** The user's latest seq (0 before any event). */
export async function readLatestSeq(redis: Redis, keys: RedisKeys, userId: string): Promise<number> {
  return Number((await redis.hget(keys.user(userId), 'seq')) ?? 0);
}

/** Records a device's cumulative ack; returns the user's acked seq afterwards. */
export async function recordAck(redis: Redis, keys: RedisKeys, userId: string, seq: number): Promise<number> {
  const [acked] = await recordAcks(redis, keys, new Map([[userId, seq]]));
  return acked ?? 0;
}

/** Records the acks of many users in one script call; returns their acked seqs, in order. */
export async function recordAcks(
  redis: Redis,
  keys: RedisKeys,
  acks: ReadonlyMap<string, number>,
): Promise<number[]> {
  if (acks.size === 0) return [];
  const userKeys = [...acks.keys()].map((userId) => keys.user(userId));
  const reply = (await command(redis, 'heraldAck')(
    userKeys.length,
    ...userKeys,
    ...acks.values(),
  )) as number[];
  return reply.map(Number);
}

/** The acked seq of each user (0 when none of its devices acked anything). */
export async function readAckedSeqs(
  redis: Redis,
  keys: RedisKeys,
  userIds: readonly string[],
): Promise<Map<string, number>> {
  const acked = await Promise.all(userIds.map((userId) => redis.hget(keys.user(userId), 'ack')));
  return new Map(userIds.map((userId, i) => [userId, Number(acked[i] ?? 0)]));
}
