import type { Logger } from '@herald/core';

/** How many user ids a log line or a failed job's reason names before it says "and N more". */
export const NAMED_USERS = 20;

/** The first `NAMED_USERS` of `userIds`, then "and N more". */
export function namesOf(userIds: readonly string[]): string {
  const named = userIds.slice(0, NAMED_USERS).join(', ');
  return userIds.length > NAMED_USERS ? `${named} and ${userIds.length - NAMED_USERS} more` : named;
}

/**
 * What went wrong for the users of one fallback job, written as one line per kind when the
 * job's run ends, not one line per user: a publish to 100,000 users without an address
 * once wrote 100,000 error lines (33 MB), and an SMTP outage would write one warning per
 * user on every retry. Each line carries counts and the first few user ids; the job's
 * failed reason names them the same way, and the `fallback-sent` marks hold every one.
 */
export class JobSummaryLog {
  private readonly noAddress: string[] = [];
  private readonly noAddressEvents = new Set<string>();
  private readonly sendFailures: Array<{ userId: string; error: unknown }> = [];
  private readonly sendFailureEvents = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /** Users of `eventId` this run found no address for (and marked undeliverable). */
  addNoAddress(eventId: string, userIds: readonly string[]): void {
    if (userIds.length === 0) return;
    this.noAddressEvents.add(eventId);
    this.noAddress.push(...userIds);
  }

  /** One user whose email to `eventId` the SMTP server did not take; the job retries it. */
  addSendFailure(eventId: string, userId: string, error: unknown): void {
    this.sendFailureEvents.add(eventId);
    this.sendFailures.push({ userId, error });
  }

  /** Writes what was added: at most one line per kind. Called once, when the job's run ends. */
  write(): void {
    if (this.noAddress.length > 0) {
      this.logger.error(
        {
          users: this.noAddress.length,
          events: this.noAddressEvents.size,
          eventIds: [...this.noAddressEvents].slice(0, NAMED_USERS),
          userIds: this.noAddress.slice(0, NAMED_USERS),
        },
        `fallback undeliverable for ${this.noAddress.length} users: no email address (none in the event, none seen on connect)`,
      );
    }
    if (this.sendFailures.length > 0) {
      // Counted by error code, so an outage (ECONNECTION for all) reads apart from a few refused recipients.
      const codes: Record<string, number> = {};
      for (const { error } of this.sendFailures) {
        const code = errorCode(error);
        codes[code] = (codes[code] ?? 0) + 1;
      }
      this.logger.warn(
        {
          users: this.sendFailures.length,
          events: this.sendFailureEvents.size,
          codes,
          userIds: this.sendFailures.slice(0, NAMED_USERS).map((f) => f.userId),
          err: this.sendFailures[0]?.error,
        },
        `fallback email failed for ${this.sendFailures.length} users; the job will retry them`,
      );
    }
  }
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string' || typeof code === 'number') return String(code);
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
