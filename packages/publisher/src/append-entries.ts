import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import {
  appendEntry,
  claimEventId,
  type ClaimResult,
  type InboxSettings,
  type RedisClient,
  type RedisKeys,
  type SequenceItem,
  serverOf,
  waitForReplicas,
} from '@herald/core';
import type { EntryOutcome } from './event-batcher.js';
import { entryEventsJson, type EventEntry, type SizedItem } from './event-entries.js';

/** The refusal of an event whose producer-supplied id was claimed for another event. */
function conflictError(eventId: string, claim: Extract<ClaimResult, { kind: 'conflict' }>): HeraldError {
  const differ = claim.differ.join(' and ');
  return new HeraldError(
    HeraldErrorCode.eventIdConflict,
    `eventId "${eventId}" was published within the last 24 h with another ${differ}: this event was not ` +
      'published. Use a new eventId for a new event; resending the same event, target, payload and fallback is deduped',
    {
      issues: claim.differ.map((path) => ({
        path,
        message: `differs from the first publish of eventId "${eventId}"`,
      })),
    },
  );
}

function toSequenceItem({ item, payloadJson, idSupplied }: SizedItem): SequenceItem {
  return {
    eventId: item.eventId,
    part: item.part.index,
    userIds: item.target.kind === 'users' ? item.target.userIds : [],
    event: item.event,
    payload: item.payload,
    payloadJson,
    publishedAt: item.publishedAt,
    idSupplied,
  };
}

/**
 * Appends the entries of one batch: each entry's items are sequenced (their users' next
 * seqs and inbox entries, a slice record for a producer-supplied id) and the entry goes
 * into its partition's stream, in one script call per entry. So an item is sequenced, in
 * the inboxes and in the stream, or none of these, and events one producer publishes one
 * after another (awaiting each) get their seqs in that order, whichever dispatcher later
 * delivers them: order is fixed before any dispatcher sees them.
 *
 * Producer-supplied event ids are claimed first, once per event (`claimEventId`): an id
 * already claimed for another event, target, payload or fallback is refused with
 * `event_id_conflict` naming what differs, and none of its slices is appended. The same
 * event again (a retry) passes the claim, and each of its slices that was sequenced before
 * is skipped by its record, so only what a failed first try missed is delivered.
 *
 * The calls are written together, in order, on one connection, and Redis runs each as it
 * arrives: a dispatcher can deliver the first slices of a 10,000-user `toUsers` while
 * Redis still sequences the others.
 *
 * Nothing is written while the connection is not ready: ioredis would hold the calls and
 * run them after a reconnect, long after their publish was refused. Such entries are
 * refused `unavailable` instead, and were not sent.
 *
 * With `durability.replicas` > 0, an entry counts as appended only once that many replicas
 * of its master have it (`WAIT`, see `waitForReplicas`); short of that its outcome is the
 * `unavailable` error, though the entry is in the stream and may be delivered.
 *
 * Resolves to one outcome per entry, in order.
 */
export async function appendEntries(
  redis: RedisClient,
  keys: RedisKeys,
  entries: readonly EventEntry[],
  settings: InboxSettings,
  durability: { replicas: number; timeoutMs: number } = { replicas: 0, timeoutMs: 0 },
): Promise<EntryOutcome[]> {
  if (redis.status !== 'ready') {
    const error = new HeraldError(
      HeraldErrorCode.unavailable,
      `Redis is unavailable (connection ${redis.status}): the events were not published; retry later (with the same eventId)`,
    );
    return entries.map(() => ({ appended: false, error }));
  }
  // One claim per (event id, fingerprint), in order of first appearance: the same event
  // twice in a batch claims once; another event under the same id is refused.
  const claims = new Map<string, Promise<ClaimResult>>();
  for (const entry of entries) {
    for (const sized of entry.items) {
      if (!sized.idSupplied) continue;
      const key = `${sized.fingerprint}|${sized.item.eventId}`;
      if (!claims.has(key)) claims.set(key, claimEventId(redis, keys, sized.item.eventId, sized.fingerprint));
    }
  }
  let claimed = new Map<string, ClaimResult>();
  // Without claims the appends go out at once, in call order with the batches around them.
  if (claims.size > 0) {
    try {
      const results = await Promise.all(claims.values());
      claimed = new Map([...claims.keys()].map((key, i) => [key, results[i] as ClaimResult]));
    } catch (error) {
      // A claim alone delivers nothing, and a retry of the same event passes it again.
      return entries.map(() => ({ appended: false, error }));
    }
  }

  const outcomes = await Promise.all(
    entries.map(async (entry): Promise<EntryOutcome> => {
      const refused = new Map<number, unknown>();
      const kept: SizedItem[] = [];
      entry.items.forEach((sized, i) => {
        const claim = sized.idSupplied
          ? claimed.get(`${sized.fingerprint}|${sized.item.eventId}`)
          : undefined;
        if (claim?.kind === 'conflict') refused.set(i, conflictError(sized.item.eventId, claim));
        else kept.push(sized);
      });
      if (kept.length === 0) return { appended: true, refused };
      try {
        await appendEntry(
          redis,
          keys,
          entry.partition,
          kept.map(toSequenceItem),
          entryEventsJson(kept),
          settings,
        );
        return { appended: true, refused };
      } catch (error) {
        return { appended: false, error: error ?? new Error('appending the entry failed') };
      }
    }),
  );
  if (durability.replicas === 0) return outcomes;

  // One WAIT per server the entries went to, once all of them are appended: it covers every
  // write before it on that server's connection, and WAITs on one connection run one after
  // another, so one per entry would make a batch wait a timeout per entry while replicas are
  // missing (and the batches behind it with it). The server is named once per entry: the
  // slots may move while the WAITs run.
  const servers = entries.map((entry) => serverOf(redis, keys.stream(entry.partition)));
  const waits = new Map<string, Promise<unknown>>();
  entries.forEach((entry, i) => {
    const server = servers[i] as string;
    if (!outcomes[i]?.appended || waits.has(server)) return;
    waits.set(
      server,
      waitForReplicas(redis, keys.stream(entry.partition), durability.replicas, durability.timeoutMs).then(
        () => undefined,
        (error: unknown) => error ?? new Error('waiting for replicas failed'),
      ),
    );
  });
  return Promise.all(
    outcomes.map(async (outcome, i): Promise<EntryOutcome> => {
      if (!outcome.appended) return outcome;
      const error = await waits.get(servers[i] as string);
      return error === undefined ? outcome : { appended: false, error };
    }),
  );
}
