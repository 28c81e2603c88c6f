import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string | null;
  to: string[];
  /** The raw RFC 822 message. */
  raw: string;
  subject: string | null;
}

export interface SmtpSink {
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** Answers the next `n` messages with a temporary failure (451), as a flaky relay would. */
  refuseNext(n: number): void;
  /** How many messages were refused so far. */
  refused: number;
  /**
   * Answers RCPT TO for `address` with a permanent failure (550) that names the address,
   * as a relay does for a mailbox it does not know ("550 <ana@example.com>: Recipient
   * address rejected").
   */
  refuseRecipient(address: string): void;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Require AUTH (PLAIN or LOGIN) with these credentials; others get 535. @default none: no AUTH needed */
  auth?: { user: string; pass: string };
}

/** A real SMTP server on a free loopback port that keeps what it receives. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  let toRefuse = 0;
  const unknownRecipients = new Set<string>();
  const sink: Omit<SmtpSink, 'url' | 'port' | 'close'> = {
    mails: [],
    refused: 0,
    refuseNext(n) {
      toRefuse = n;
    },
    refuseRecipient(address) {
      unknownRecipients.add(address.toLowerCase());
    },
  };
  const { auth } = options;
  const server = new SMTPServer({
    authOptional: auth === undefined,
    // Plain-text AUTH without TLS is fine on loopback, and it is what a test needs to see.
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(credentials, _session, callback) {
      if (auth && credentials.username === auth.user && credentials.password === auth.pass) {
        callback(null, { user: auth.user });
      } else {
        callback(new Error('Invalid username or password'));
      }
    },
    onRcptTo(address, _session, callback) {
      if (!unknownRecipients.has(address.address.toLowerCase())) {
        callback();
        return;
      }
      const error = new Error(`<${address.address}>: Recipient address rejected: User unknown`);
      callback(Object.assign(error, { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (toRefuse > 0) {
          toRefuse -= 1;
          sink.refused += 1;
          const error = Object.assign(new Error('try again later'), { responseCode: 451 });
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const subject = /^Subject: (.*)$/im.exec(raw)?.[1]?.trim() ?? null;
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
        sink.mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, subject });
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(sink, {
    url: `smtp://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
