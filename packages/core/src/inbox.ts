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
 * Sequences the events of one events job, run inside the MULTI that adds the job, so an
 * event is either sequenced, in the inbox and queued, or none of these.
 *
 * KEYS: the job's seqs key, then per item: its record key, the record key of the event's
 * part 0, then per user: the user's hash, the user's inbox. ARGV: inboxMax, inboxTtlS,
 * recordTtlS, job id, then per item: user count, the event's fingerprint
 * (`event.to.payload.fallback` hashes), entry tail (the entry's JSON without its opening
 * brace and seq).
 *
 * Each item claims its (event id, part) record with one `SET NX`: the record names the
 * job, the item's place in it and the event's fingerprint. An item whose record exists
 * was published before under the same event id: it gets no seq and no inbox entry, and
 * the record keeps naming the job that delivers it. Its result is 0 when the fingerprint
 * is the same (a retry: deduped), else the names of the parts that differ (`to,payload`):
 * a reused event id, which the publisher refuses. A part with no record of its own is
 * checked against part 0's first: a `toUsers` reusing an id with more users than before
 * has parts the first publish never had, and they must not be delivered for a publish
 * that is refused (part 0 goes first: the MULTIs of one publish run in part order). The users' seqs of the whole job go
 * into one string (per item, in order, `;`-separated: the seqs `,`-separated, or `-` for
 * a claimed pair), which the dispatcher reads with one GET instead of one read per event.
 */
const SEQUENCE_SCRIPT = `
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local recordTtl = tonumber(ARGV[3])
local jobId = ARGV[4]
local names = { 'event', 'to', 'payload', 'fallback' }
local function split(text)
  local out = {}
  for piece in string.gmatch(text, '[^.]+') do out[#out + 1] = piece end
  return out
end
local function fingerprintOf(key)
  local value = redis.call('GET', key)
  if not value then return nil end
  return string.match(value, '[^|]*$')
end
local k = 2
local a = 5
local index = 0
local out = {}
local parts = {}
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local fingerprint = ARGV[a + 1]
  local tail = ARGV[a + 2]
  a = a + 3
  local record = KEYS[k]
  local first = KEYS[k + 1]
  k = k + 2
  local prior = nil
  if first ~= record then
    prior = fingerprintOf(first)
    if prior == fingerprint then prior = nil end
  end
  if prior == nil and not redis.call('SET', record, jobId .. '|' .. index .. '|' .. fingerprint, 'NX', 'EX', recordTtl) then
    prior = fingerprintOf(record) or ''
  end
  if prior ~= nil then
    k = k + 2 * n
    if prior == fingerprint then
      out[#out + 1] = 0
    else
      local mine, theirs, differ = split(fingerprint), split(prior), {}
      for i, name in ipairs(names) do
        if mine[i] ~= theirs[i] then differ[#differ + 1] = name end
      end
      out[#out + 1] = table.concat(differ, ',')
    end
    parts[#parts + 1] = '-'
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
    out[#out + 1] = 1
    parts[#parts + 1] = table.concat(seqs, ',')
  end
  index = index + 1
end
redis.call('SET', KEYS[1], table.concat(parts, ';'), 'EX', recordTtl)
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
 * What an events job needs before it emits, in one call: KEYS = the job's seqs key, then
 * the presence zset of each of its users. ARGV[1] = now (ms). Returns the job's seqs
 * string (false where there is none), then per user the live entries (score ≥ now) as
 * member, score, …
 */
const DELIVERY_STATE_SCRIPT = `
local now = ARGV[1]
local out = { redis.call('GET', KEYS[1]) }
for i = 2, #KEYS do
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
  /** Empty for rooms and broadcast: they are recorded (delivered once) but have no seq. */
  userIds: readonly string[];
  event: string;
  payload: unknown;
  /** `payload` as JSON when the caller has it already (the publisher measured it); saves serializing it again. */
  payloadJson?: string | undefined;
  publishedAt: number;
  /**
   * What the event id stands for, recorded with it: `.`-separated hashes of the event
   * name, the whole target and the payload (the publisher's `eventFingerprint`). A later
   * item with the same (event id, part) and another fingerprint is a conflict. Tests that
   * sequence by hand may leave it out (empty): such items only ever match each other.
   */
  fingerprint?: string | undefined;
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
 * What became of one item of a sequenced job: `sequenced`; `duplicate`, its event id was
 * published before with the same fingerprint (a retry, delivered once); or `conflict`, it
 * was published before with another event, target, payload or fallback (`differ` names which).
 */
export type SequenceResult =
  { kind: 'sequenced' } | { kind: 'duplicate' } | { kind: 'conflict'; differ: FingerprintPart[] };

/** The parts of an event's fingerprint, as the sequencing script names those that differ. */
const FINGERPRINT_PARTS = ['event', 'to', 'payload', 'fallback'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];

/** Reads the sequencing script's reply (one entry per item) as `SequenceResult`s. */
export function parseSequenceReply(reply: unknown): SequenceResult[] {
  if (!Array.isArray(reply)) throw new Error(`heraldSequence replied ${JSON.stringify(reply)}, not a list`);
  return reply.map((entry: unknown): SequenceResult => {
    if (entry === 1) return { kind: 'sequenced' };
    if (entry === 0) return { kind: 'duplicate' };
    const differ = String(entry)
      .split(',')
      .filter((name): name is FingerprintPart => (FINGERPRINT_PARTS as readonly string[]).includes(name));
    return { kind: 'conflict', differ };
  });
}

/**
 * Queues the sequencing of the items of events job `jobId` on `multi` (which must come
 * from a connection that ran `defineInboxCommands`), in their order in the job. It is the
 * first command queued here: its result, in the MULTI's results, is the script's reply
 * (read it with `parseSequenceReply`).
 */
export function queueSequencing(
  multi: ChainableCommander,
  keys: RedisKeys,
  jobId: string,
  items: readonly SequenceItem[],
  settings: InboxSettings,
): void {
  const redisKeys: string[] = [keys.jobSeqs(jobId)];
  const args: Array<string | number> = [settings.inboxMax, settings.inboxTtlS, EVENT_RECORD_TTL_S, jobId];
  for (const item of items) {
    redisKeys.push(keys.eventRecord(item.eventId, item.part), keys.eventRecord(item.eventId, 0));
    for (const userId of item.userIds) redisKeys.push(keys.user(userId), keys.inbox(userId));
    args.push(item.userIds.length, item.fingerprint ?? '', entryTail(item));
  }
  void command(multi, 'heraldSequence')(redisKeys.length, ...redisKeys, ...args);
}

/** What an events job finds about one of its (event id, part) pairs. */
export interface EventRecord {
  /** The job that delivers it; another job carrying it (a republish) skips it. */
  jobId: string;
  /** The seq of each of the item's users, in the order of its user ids. */
  seqs: number[];
  /** What the event id stands for (see `SequenceItem.fingerprint`). */
  fingerprint: string;
}

/**
 * Parses a job's seqs string: per item, its users' seqs, or null where the item's
 * (event id, part) was claimed by another job.
 */
function parseJobSeqs(text: string): Array<number[] | null> {
  return text.split(';').map((part) => (part === '-' ? null : parseSeqList(part)));
}

/** Parses one item's seqs, `,`-separated (empty for an item with no users). */
function parseSeqList(text: string): number[] {
  return text === '' ? [] : text.split(',').map(Number);
}

/**
 * Reads the record of each (event id, part); null where there is none (expired, or never
 * sequenced).
 */
export async function readEventRecords(
  redis: Redis,
  keys: RedisKeys,
  refs: ReadonlyArray<{ eventId: string; part: number }>,
): Promise<Array<EventRecord | null>> {
  if (refs.length === 0) return [];
  const values = await redis.mget(...refs.map((ref) => keys.eventRecord(ref.eventId, ref.part)));
  // Records point into their job's seqs: read those jobs' seqs in one MGET.
  const pointers = values.map((value) => {
    if (typeof value !== 'string') return null;
    const [jobId = '', index = '', fingerprint = ''] = value.split('|');
    return { jobId, index: Number(index), fingerprint };
  });
  const jobIds = [...new Set(pointers.flatMap((p) => (p ? [p.jobId] : [])))];
  const jobSeqs = new Map<string, Array<number[] | null>>();
  if (jobIds.length > 0) {
    const texts = await redis.mget(...jobIds.map((jobId) => keys.jobSeqs(jobId)));
    jobIds.forEach((jobId, i) => {
      const text = texts[i];
      if (typeof text === 'string') jobSeqs.set(jobId, parseJobSeqs(text));
    });
  }
  return pointers.map((pointer) => {
    const seqs = pointer && jobSeqs.get(pointer.jobId)?.[pointer.index];
    return pointer && seqs ? { jobId: pointer.jobId, seqs, fingerprint: pointer.fingerprint } : null;
  });
}

/** What an events job needs before it emits, read in one round trip. */
export interface DeliveryState {
  /**
   * Per item of the job, in order: its users' seqs, or null where its (event id, part) is
   * delivered by another job (a republish or a reused event id). Null as a whole when the
   * job has no seqs record: older than the records' 24 h, or not queued by a publisher.
   */
  jobSeqs: Array<number[] | null> | null;
  /** The users that have a live presence entry, with their devices. */
  devices: Map<string, UserDevices>;
}

/**
 * Reads, in one script call, the seqs the publisher gave events job `jobId` and the
 * presence of its users (what `PresenceReader.devicesAmong` reads with one command per
 * user). On a busy dispatcher the client-side cost of each command (an ioredis command
 * object, its promise, its reply) was most of the time spent per event; one call with
 * many keys costs a fraction of that.
 */
export async function readDeliveryState(
  redis: Redis,
  keys: RedisKeys,
  jobId: string,
  userIds: readonly string[],
  now = Date.now(),
): Promise<DeliveryState> {
  const redisKeys = [keys.jobSeqs(jobId)];
  for (const userId of userIds) redisKeys.push(keys.presence(userId));
  const reply = (await command(redis, 'heraldDeliveryState')(redisKeys.length, ...redisKeys, now)) as [
    string | null,
    ...string[][],
  ];
  const devices = new Map<string, UserDevices>();
  userIds.forEach((userId, i) => {
    const entries = reply[1 + i] as string[] | undefined;
    if (entries && entries.length > 0) devices.set(userId, countDevices(entries));
  });
  return { jobSeqs: typeof reply[0] === 'string' ? parseJobSeqs(reply[0]) : null, devices };
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
