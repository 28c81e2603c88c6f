/**
 * The bench's SMTP server: `@herald/testing`'s sink on a free loopback port, in a process
 * of its own (so its CPU is sampled like the others' and it never slows the orchestrator).
 * The fallback worker sends to it (`SMTP_URL`); nothing leaves the machine. The
 * orchestrator takes what arrived over IPC, reduced to recipient and the bench's event id.
 */
import { startSmtpSink } from '@herald/testing';
import { serveRpc } from './rpc.js';

export interface SunkMail {
  /** The first recipient (the fallback worker sends one message per user). */
  to: string;
  /**
   * The bench's id of the event (`{phase}-{number}`), read from the subject: a bench event's
   * title is `Bench {id}`, and the `notification:new` template makes the title the subject
   * ('' for any other mail).
   */
  benchId: string;
}

const sink = await startSmtpSink();
let received = 0;

/** Every mail received since the last call (each is handed out once), and the total so far. */
function take(): { mails: SunkMail[]; received: number } {
  const raw = sink.mails.splice(0, sink.mails.length);
  received += raw.length;
  const mails = raw.map((mail) => ({
    to: (mail.to[0] ?? '').toLowerCase(),
    benchId: /^Bench (\S+)$/.exec(mail.subject ?? '')?.[1] ?? '',
  }));
  return { mails, received };
}

const api = {
  url: () => sink.url,
  take,
  /** Mails received so far (cheap; polled while waiting for the fallback to settle). */
  count: () => received + sink.mails.length,
};
export type SmtpSinkApi = typeof api;

let closing: Promise<void> | undefined;
const shutdown = () => {
  closing ??= sink.close().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
serveRpc(api, shutdown);
