/**
 * Checks the email fallback while the bench runs with a realistic ack timeout: which
 * Herald events were emailed, and whether any of them had been acked in time.
 *
 * Each Herald step registers, per event, whether and how fast a device's handler got it.
 * Devices ack what they handle within `ackDelayMs` (the SDK's batching), so an event
 * handled at most `ackTimeoutMs − ackDelayMs − ACK_SLACK_MS` after its publish was acked
 * before its check ran and must produce no email. One handled later may be emailed
 * (and acked after: both are correct), and one never handled must be emailed, since
 * the devices carry an address in their token.
 *
 * Emails name their event (the subject is the bench event's title, `Bench {phase}-{number}`)
 * and user (`benchEmail`), so the audit attributes each to its step.
 */
import { sleep, type BenchContext } from './context.js';
import type { SunkMail } from './smtp-sink-process.js';

/** Room for the ack's own trip (and a busy node) between `ackDelayMs` and the check. */
export const ACK_SLACK_MS = 1_000;

/** What the fallback did for the events of one step (or trial). */
export interface FallbackTally {
  /** Emails the SMTP sink received for these events. */
  emails: number;
  /** Emails for events a device handled early enough to ack before the check: must be 0. */
  emailsForAckedEvents: number;
  /** Events no device handled; each should have been emailed. */
  lost: number;
  lostEmailed: number;
  /** Events handled too late to be acked before their check: an email is allowed. */
  late: number;
  lateEmailed: number;
  /** Emails beyond the first for one (event, user). */
  duplicateEmails: number;
}

export function emptyTally(): FallbackTally {
  return {
    emails: 0,
    emailsForAckedEvents: 0,
    lost: 0,
    lostEmailed: 0,
    late: 0,
    lateEmailed: 0,
    duplicateEmails: 0,
  };
}

export function addTally(into: FallbackTally, from: FallbackTally): FallbackTally {
  for (const key of Object.keys(into) as Array<keyof FallbackTally>) into[key] += from[key];
  return into;
}

interface PhaseEvents {
  /** Per event number: publish → handler latency, NaN when no handler got it. */
  latency: Float64Array;
  tally: FallbackTally;
  emailed: Set<string>;
}

export class FallbackAudit {
  private readonly phases = new Map<string, PhaseEvents>();
  /** Mails whose event id names no registered phase (other scenarios' events). */
  otherEmails = 0;
  /** The latest publish of a registered event that has not been settled yet (ms since epoch). */
  private unsettledSince: number | null = null;

  constructor(
    readonly ackTimeoutMs: number,
    readonly ackDelayMs: number,
  ) {}

  /** Latest publish→handler latency at which the device's ack still precedes the check. */
  get ackedWithinMs(): number {
    return this.ackTimeoutMs - this.ackDelayMs - ACK_SLACK_MS;
  }

  /** Records one Herald phase: `published` events numbered 0…published-1, and what the devices got. */
  register(
    phase: string,
    published: number,
    receipts: { events: Float64Array; latencies: Float64Array },
    endedAt: number,
  ): void {
    const latency = new Float64Array(published).fill(Number.NaN);
    receipts.events.forEach((s, i) => {
      if (s < published) latency[s] = receipts.latencies[i] as number;
    });
    const tally = emptyTally();
    for (const l of latency) {
      if (Number.isNaN(l)) tally.lost += 1;
      else if (l > this.ackedWithinMs) tally.late += 1;
    }
    this.phases.set(phase, { latency, tally, emailed: new Set() });
    this.unsettledSince = Math.max(this.unsettledSince ?? 0, endedAt);
  }

  /** Whether events were registered whose checks may not have run yet. */
  get pending(): boolean {
    return this.unsettledSince !== null;
  }

  tally(phase: string): FallbackTally {
    return this.phases.get(phase)?.tally ?? emptyTally();
  }

  /**
   * Waits until every registered event's check has run (its ack timeout has passed, the
   * fallback queue holds nothing, and no email arrived for 2 s; bounded), then attributes
   * the mails that arrived. Between steps of different paths, so no path pays for Herald's
   * checks.
   */
  async settle(ctx: BenchContext): Promise<void> {
    if (this.unsettledSince === null) return;
    await waitForFallback(ctx, this.unsettledSince + this.ackTimeoutMs);
    this.unsettledSince = null;
    this.attribute(await ctx.stack.takeMails());
  }

  /** Attributes mails to the registered phases by the bench's event id (`{phase}-{number}`). */
  attribute(mails: readonly SunkMail[]): void {
    for (const mail of mails) {
      const dash = mail.benchId.lastIndexOf('-');
      const record = dash > 0 ? this.phases.get(mail.benchId.slice(0, dash)) : undefined;
      const s = Number(mail.benchId.slice(dash + 1));
      if (!record || !Number.isInteger(s) || s >= record.latency.length) {
        this.otherEmails += 1;
        continue;
      }
      const { tally } = record;
      tally.emails += 1;
      const key = `${s}|${mail.to}`;
      if (record.emailed.has(key)) {
        tally.duplicateEmails += 1;
        continue;
      }
      record.emailed.add(key);
      const latency = record.latency[s] as number;
      if (Number.isNaN(latency)) tally.lostEmailed += 1;
      else if (latency > this.ackedWithinMs) tally.lateEmailed += 1;
      else tally.emailsForAckedEvents += 1;
    }
  }
}

/** Fallback jobs not yet done: delayed, waiting, active or prioritized (0 when the queue has no keys). */
export async function fallbackJobsPending(ctx: BenchContext): Promise<number> {
  const q = `${ctx.prefix}:fallback`;
  const [delayed, wait, active, prioritized] = await Promise.all([
    ctx.redis.zcard(`${q}:delayed`),
    ctx.redis.llen(`${q}:wait`),
    ctx.redis.llen(`${q}:active`),
    ctx.redis.zcard(`${q}:prioritized`),
  ]);
  return delayed + wait + active + prioritized;
}

/**
 * Waits until `dueAt` (when the last check is due), then until the fallback queue is empty
 * and the sink got no mail for 2 s; gives up `maxMs` after `dueAt` (bounded: a failing check
 * must not hang the run; what it did is reported as it is).
 */
export async function waitForFallback(ctx: BenchContext, dueAt: number, maxMs = 60_000): Promise<void> {
  // The dispatcher lingers (`HERALD_DISPATCHER_CHECK_LINGER_MS`, 20 ms) before it schedules a check.
  const start = dueAt + 500;
  if (start > Date.now()) await sleep(start - Date.now());
  const deadline = start + maxMs;
  let lastCount = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    ctx.registry.check();
    const [pending, count] = await Promise.all([fallbackJobsPending(ctx), ctx.stack.mailCount()]);
    if (count !== lastCount) {
      lastCount = count;
      quietSince = Date.now();
    }
    if (pending === 0 && Date.now() - quietSince >= 2_000) return;
    await sleep(200);
  }
  ctx.log(
    `  warning: the fallback queue still held jobs (or mail kept arriving) ${maxMs / 1000} s after the last check was due`,
  );
}
