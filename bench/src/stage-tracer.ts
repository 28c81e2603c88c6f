/**
 * `pnpm bench --trace-stages FILE` (a diagnostic): where Herald's publish → PUBLISH time
 * goes. It runs beside the bench as its own process, on the bench's Redis, and only
 * watches what Herald writes there anyway:
 *
 * - the partition streams (`{name:n}:events`, read with plain XREAD, outside the
 *   dispatchers' group): each entry's id is Redis's clock in ms when it was appended, and
 *   its items carry their `publishedAt` (the publisher's `Date.now()` at `emit`) and ids;
 * - the sharded channels of the bench's users (`SSUBSCRIBE herald:socket.io#/#user:user-{i}#`,
 *   as a node holding them does; sharded pub/sub has no pattern subscribe, so the tracer is
 *   told how many users there are): when each event's SPUBLISH reaches a subscriber.
 *
 * So each user-targeted event splits into publisher (publish → entry appended: linger,
 * batch and the script) and dispatcher (appended → PUBLISH: the group read, presence
 * read, emits). Every second it writes their p50/p90/p99 and, for the slowest 1%, the
 * mean of each stage. A `toUsers` fan-out (items of ≥ 100 users) gets a timeline instead:
 * when each slice was appended, and when its PUBLISHes went out, all relative to the publish.
 *
 * It costs CPU (it decodes every PUBLISH and parses every job), so its run's figures are
 * for the breakdown, not for the results. Clocks: one machine, so Redis's ms, the
 * publisher's `Date.now()` and this process's clock agree to about a millisecond.
 *
 * Env: REDIS_URL, BENCH_TRACE_PREFIX, BENCH_TRACE_OUT (file, appended).
 */
import { appendFileSync } from 'node:fs';
import { EventEntryData } from '@herald/contracts';
import { createKeys } from '@herald/core';
import { Redis } from 'ioredis';

/** Items with at least this many users are traced as a fan-out timeline. */
const FAN_OUT_USERS = 100;

const url = process.env.REDIS_URL;
const prefix = process.env.BENCH_TRACE_PREFIX;
const out = process.env.BENCH_TRACE_OUT;
if (!url || !prefix || !out)
  throw new Error('REDIS_URL, BENCH_TRACE_PREFIX and BENCH_TRACE_OUT are required');

const write = (line: string) => appendFileSync(out, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
const clock = () => performance.timeOrigin + performance.now();

/** One event of a single-user item: its times until its PUBLISH is seen. */
interface Pending {
  appended: number;
  publishedAt: number;
}
interface FanOut {
  publishedAt: number;
  /** When each slice was appended, in ms after the publish. */
  slices: number[];
  publishes: number[];
  lastChange: number;
}

const pending = new Map<string, Pending>();
/** PUBLISHes seen before their entry was read (the read races the dispatcher). */
const early = new Map<string, number>();
const fanOuts = new Map<string, FanOut>();
/** Per finished event: publisher, dispatcher, total (ms). */
let rows: Array<[number, number, number]> = [];

function finish(eventId: string): void {
  const times = pending.get(eventId);
  const publishAt = early.get(eventId);
  if (!times || publishAt === undefined) return;
  pending.delete(eventId);
  early.delete(eventId);
  rows.push([times.appended - times.publishedAt, publishAt - times.appended, publishAt - times.publishedAt]);
}

function onPublish(message: string): void {
  const at = clock();
  let meta: { id?: unknown } | undefined;
  try {
    // The sharded emitter's messages are the adapter's own BROADCAST, as JSON.
    const { data } = JSON.parse(message) as { data?: { packet?: { data?: unknown[] } } };
    const args = data?.packet?.data;
    meta = args?.[args.length - 1] as { id?: unknown } | undefined;
  } catch {
    return; // not an emitter broadcast
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

function onAppended(eventsJson: string, appended: number): void {
  // Entries read back from Redis are validated as the dispatcher does; an invalid one is not traced.
  const parsed = EventEntryData.safeParse({ events: JSON.parse(eventsJson) as unknown });
  if (!parsed.success) return;
  for (const item of parsed.data.events) {
    const users = item.target.kind === 'users' ? item.target.userIds.length : 0;
    if (users >= FAN_OUT_USERS) {
      let fanOut = fanOuts.get(item.eventId);
      if (!fanOut) {
        fanOut = { publishedAt: item.publishedAt, slices: [], publishes: [], lastChange: clock() };
        fanOuts.set(item.eventId, fanOut);
      }
      fanOut.slices.push(appended - item.publishedAt);
      fanOut.lastChange = clock();
    } else if (users === 1) {
      pending.set(item.eventId, { appended, publishedAt: item.publishedAt });
      finish(item.eventId);
    }
  }
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const ms = (v: number) => v.toFixed(0);

function reportSecond(): void {
  if (rows.length > 0) {
    const names = ['publisher', 'dispatcher', 'total'];
    const parts = names.map((name, i) => {
      const sorted = rows.map((r) => r[i] as number).sort((a, b) => a - b);
      return `${name} ${ms(quantile(sorted, 0.5))}/${ms(quantile(sorted, 0.9))}/${ms(quantile(sorted, 0.99))}`;
    });
    const slowest = [...rows]
      .sort((a, b) => b[2] - a[2])
      .slice(0, Math.max(1, Math.floor(rows.length / 100)));
    const mean = (i: number) => ms(slowest.reduce((s, r) => s + (r[i] ?? 0), 0) / slowest.length);
    write(
      `events ${rows.length}: ${parts.join(' | ')} ms (p50/p90/p99) | slowest 1%: publisher ${mean(0)}, dispatcher ${mean(1)} ms`,
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
    write(`  slices appended (ms after the publish): ${list(fanOut.slices)}`);
  }
  // Events whose PUBLISH never came (offline users) and PUBLISHes of the other paths must not pile up.
  for (const map of [pending, early]) if (map.size > 100_000) map.clear();
}

const reader = new Redis(url, { maxRetriesPerRequest: null });
const subscriber = new Redis(url, { maxRetriesPerRequest: null });
const partitions = Number(process.env.BENCH_TRACE_PARTITIONS ?? 16);
const keys = createKeys(prefix, partitions);
const streams = keys.partitionNumbers.map((partition) => keys.stream(partition));
const users = Number(process.env.BENCH_TRACE_USERS ?? 0);
for (let i = 0; i < users; i++)
  await subscriber.ssubscribe(`${keys.socketIoChannelPrefix}#/#user:user-${i}#`);
subscriber.on('smessage', (_channel: string, message: string) => onPublish(message));
setInterval(reportSecond, 1_000);
write(`tracing ${streams.length} partition streams and the sharded channels of ${users} users`);

// The tracer's own failures go to its file: a bench child that dies fails the whole run.
const report = (what: string) => (error: unknown) =>
  write(`tracer: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
for (const connection of [reader, subscriber]) connection.on('error', report('redis connection'));

const lastIds = streams.map(() => '$');
for (;;) {
  const reply = await reader
    .xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', ...streams, ...lastIds)
    .catch((error: unknown) => {
      report('XREAD')(error);
      return new Promise<null>((resolve) => setTimeout(() => resolve(null), 1_000));
    });
  for (const [stream, entries] of reply ?? []) {
    const at = streams.indexOf(stream);
    for (const [id, fields] of entries) {
      lastIds[at] = id;
      const appended = Number(id.slice(0, id.indexOf('-')));
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'events') onAppended(fields[i + 1] as string, appended);
      }
    }
  }
}
