import { describe, expect, it } from 'vitest';
import { FallbackAudit } from './fallback-audit.js';

describe('FallbackAudit', () => {
  // Checks after 10 s, devices ack within 5 s: an event handled within 4 s was acked in time.
  const audit = () => {
    const a = new FallbackAudit(10_000, 5_000);
    a.register(
      'herald-2000-7',
      4,
      // Event 2 never reached a handler; event 1 reached it after 4.5 s.
      { events: Float64Array.from([0, 1, 3]), latencies: Float64Array.from([100, 4_500, 200]) },
      Date.now(),
    );
    return a;
  };

  it('counts an email for an event acked in time as one that must not exist', () => {
    const a = audit();
    a.attribute([{ to: 'user-0@bench.example', benchId: 'herald-2000-7-0' }]);
    expect(a.tally('herald-2000-7')).toMatchObject({ emails: 1, emailsForAckedEvents: 1 });
  });

  it('allows emails for late and lost events, and counts repeats and strangers apart', () => {
    const a = audit();
    a.attribute([
      { to: 'user-1@bench.example', benchId: 'herald-2000-7-1' },
      { to: 'user-2@bench.example', benchId: 'herald-2000-7-2' },
      { to: 'user-2@bench.example', benchId: 'herald-2000-7-2' },
      { to: 'user-9@bench.example', benchId: 'fanout-herald-0-0' },
      { to: 'someone@example.com', benchId: '' },
    ]);
    expect(a.tally('herald-2000-7')).toEqual({
      emails: 3,
      emailsForAckedEvents: 0,
      lost: 1,
      lostEmailed: 1,
      late: 1,
      lateEmailed: 1,
      duplicateEmails: 1,
    });
    expect(a.otherEmails).toBe(2);
  });

  it('knows whether checks are still to run', () => {
    expect(new FallbackAudit(10_000, 5_000).pending).toBe(false);
    expect(audit().pending).toBe(true);
  });
});
