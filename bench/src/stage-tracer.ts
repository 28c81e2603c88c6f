/**
 * `pnpm bench --trace-stages FILE` (a diagnostic): where Herald's publish → PUBLISH time
 * goes. It runs beside the bench as its own process, on the bench's Redis, and only
 * watches what Herald writes there anyway:
 *
 * - BullMQ's event stream of the events queue (`{p}:events:events`): each job's `added`
 *   and `active` entries, whose stream ids are Redis's clock in ms;
 * - each job's data (`HGET {p}:events:{id} data`, read when the job turns active): its
 *   events' `publishedAt` (the publisher's `Date.now()` at `emit`) and ids;
 * - the socket.io channel (`PSUBSCRIBE {p}:socket.io#*`, as the nodes' adapter does):
 *   when each event's PUBLISH reaches a subscriber.
 *
 * So each user-targeted event splits into publisher (publish → job added: linger, batch
 * and the MULTI), queue (added → active: the worker's pickup) and dispatcher (active →
 * PUBLISH: state read, emits). Every second it writes their p50/p90/p99 and, for the
 * slowest 1%, the mean of each stage. A `toUsers` fan-out (items of ≥ 100 users) gets a
 * timeline instead: when each slice was added and turned active, and when its PUBLISHes
 * went out, all relative to the publish.
 *
 * It costs CPU (it decodes every PUBLISH and parses every job), so its run's figures are
 * for the breakdown, not for the results. Clocks: one machine, so Redis's ms, the
 * publisher's `Date.now()` and this process's clock agree to about a millisecond.
 *
 * Env: REDIS_URL, BENCH_TRACE_PREFIX, BENCH_TRACE_OUT (file, appended).
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { EventJobData, QueueName } from '@herald/contracts';
import { Redis } from 'ioredis';

// notepack.io is what @socket.io/redis-emitter encodes with; resolved through it, as the same version.
const emitterRequire = createRequire(createRequire(import.meta.url).resolve('@socket.io/redis-emitter'));
const notepack = emitterRequire('notepack.io') as { decode(buffer: Buffer): unknown };

/** Items with at least this many users are traced as a fan-out timeline. */
const FAN_OUT_USERS = 100;

const url = process.env.REDIS_URL;
const prefix = process.env.BENCH_TRACE_PREFIX;
const out = process.env.BENCH_TRACE_OUT;
if (!url || !prefix || !out)
  throw new Error('REDIS_URL, BENCH_TRACE_PREFIX and BENCH_TRACE_OUT are required');

const write = (line: string) => appendFileSync(out, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
const clock = () => performance.timeOrigin + performance.now();

interface JobTimes {
  added: number;
  active: number;
}
/** One event of a single-user item: its times until its PUBLISH is seen. */
interface Pending extends JobTimes {
  publishedAt: number;
}
interface FanOut {
  publishedAt: number;
  slices: JobTimes[];
  publishes: number[];
  lastChange: number;
}

const pending = new Map<string, Pending>();
/** PUBLISHes seen before their job's data was read (the read races the dispatcher). */
const early = new Map<string, number>();
const fanOuts = new Map<string, FanOut>();
/** Per finished event: publisher, queue, dispatcher, total (ms). */
let rows: Array<[number, number, number, number]> = [];

function finish(eventId: string): void {
  const times = pending.get(eventId);
  const publishAt = early.get(eventId);
  if (!times || publishAt === undefined) return;
  pending.delete(eventId);
  early.delete(eventId);
  rows.push([
    times.added - times.publishedAt,
    times.active - times.added,
    publishAt - times.active,
    publishAt - times.publishedAt,
  ]);
}

function onPublish(message: Buffer): void {
  const at = clock();
  let meta: { id?: unknown } | undefined;
  try {
    const [, packet] = notepack.decode(message) as [unknown, { data?: unknown[] }];
    meta = packet.data?.[packet.data.length - 1] as { id?: unknown } | undefined;
  } catch {
    return; // not an emitter broadcast (the adapter's requests share the channel prefix)
  }
  if (typeof meta?.id !== 'string') return;
  const fanOut = fanOuts.get(meta.id);
  if (fanOut) {
    fanOut.publishes.push(at - fanOut.publishedAt);
    fanOut.lastChange = at;
    return;
  }
  early.set(meta.id, at);
  finish(meta.id);
}

function onActive(data: string, times: JobTimes): void {
  // Jobs read back from Redis are validated as the dispatcher does; an invalid one is not traced.
  const parsed = EventJobData.safeParse(JSON.parse(data));
  if (!parsed.success) return;
  for (const item of parsed.data.events) {
    const users = item.target.kind === 'users' ? item.target.userIds.length : 0;
    if (users >= FAN_OUT_USERS) {
      let fanOut = fanOuts.get(item.eventId);
      if (!fanOut) {
        fanOut = { publishedAt: item.publishedAt, slices: [], publishes: [], lastChange: clock() };
        fanOuts.set(item.eventId, fanOut);
      }
      fanOut.slices.push({ added: times.added - item.publishedAt, active: times.active - item.publishedAt });
      fanOut.lastChange = clock();
    } else if (users === 1) {
      pending.set(item.eventId, { ...times, publishedAt: item.publishedAt });
      finish(item.eventId);
    }
  }
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const ms = (v: number) => v.toFixed(0);

function reportSecond(): void {
  if (rows.length > 0) {
    const names = ['publisher', 'queue', 'dispatcher', 'total'];
    const parts = names.map((name, i) => {
      const sorted = rows.map((r) => r[i] as number).sort((a, b) => a - b);
      return `${name} ${ms(quantile(sorted, 0.5))}/${ms(quantile(sorted, 0.9))}/${ms(quantile(sorted, 0.99))}`;
    });
    const slowest = [...rows]
      .sort((a, b) => b[3] - a[3])
      .slice(0, Math.max(1, Math.floor(rows.length / 100)));
    const mean = (i: number) => ms(slowest.reduce((s, r) => s + (r[i] ?? 0), 0) / slowest.length);
    write(
      `events ${rows.length}: ${parts.join(' | ')} ms (p50/p90/p99) | slowest 1%: publisher ${mean(0)}, queue ${mean(1)}, dispatcher ${mean(2)} ms`,
    );
    rows = [];
  }
  // A fan-out is written once its PUBLISHes stopped for a second.
  for (const [eventId, fanOut] of fanOuts) {
    if (clock() - fanOut.lastChange < 1_000) continue;
    fanOuts.delete(eventId);
    const list = (values: number[]) =>
      values
        .sort((a, b) => a - b)
        .map(ms)
        .join(' ');
    const publishes = fanOut.publishes.sort((a, b) => a - b);
    write(
      `fan-out ${eventId}: ${fanOut.slices.length} slices; PUBLISHes ${publishes.length}: first ${ms(publishes[0] ?? 0)}, ` +
        `p50 ${ms(quantile(publishes, 0.5))}, p99 ${ms(quantile(publishes, 0.99))}, last ${ms(publishes.at(-1) ?? 0)} ms after the publish`,
    );
    write(`  slices added  (ms after the publish): ${list(fanOut.slices.map((s) => s.added))}`);
    write(`  slices active (ms after the publish): ${list(fanOut.slices.map((s) => s.active))}`);
  }
  // Events whose PUBLISH never came (offline users), PUBLISHes of the other paths and jobs
  // whose `active` entry was trimmed from the stream must not pile up.
  for (const map of [pending, early, addedAt]) if (map.size > 100_000) map.clear();
}

const addedAt = new Map<string, number>();
const reader = new Redis(url, { maxRetriesPerRequest: null });
const subscriber = new Redis(url, { maxRetriesPerRequest: null });
const jobKey = (id: string) => `${prefix}:${QueueName.events}:${id}`;
const streamKey = jobKey('events');
await subscriber.psubscribe(`${prefix}:socket.io#*`);
subscriber.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => onPublish(message));
setInterval(reportSecond, 1_000);
write(`tracing ${streamKey} and ${prefix}:socket.io#*`);

// The tracer's own failures go to its file: a bench child that dies fails the whole run.
const report = (what: string) => (error: unknown) =>
  write(`tracer: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
for (const connection of [reader, subscriber]) connection.on('error', report('redis connection'));

let lastId = '$';
for (;;) {
  const reply = await reader
    .xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', streamKey, lastId)
    .catch((error: unknown) => {
      report('XREAD')(error);
      return new Promise<null>((resolve) => setTimeout(() => resolve(null), 1_000));
    });
  for (const [id, fields] of reply?.[0]?.[1] ?? []) {
    lastId = id;
    const time = Number(id.slice(0, id.indexOf('-')));
    const entry: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i] as string] = fields[i + 1] as string;
    const jobId = entry.jobId;
    if (jobId === undefined) continue;
    if (entry.event === 'added') addedAt.set(jobId, time);
    else if (entry.event === 'active') {
      const added = addedAt.get(jobId);
      addedAt.delete(jobId);
      if (added === undefined) continue;
      void reader
        .hget(jobKey(jobId), 'data')
        .then((data) => {
          if (data) onActive(data, { added, active: time });
        })
        .catch(report(`reading job ${jobId}`));
    }
  }
}
