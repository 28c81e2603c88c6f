import nodemailer from 'nodemailer';
import type { Logger } from '@herald/core';
import type { EmailContent } from './email-templates.js';

export interface OutgoingEmail extends EmailContent {
  to: string;
  messageId: string;
  headers: Record<string, string>;
}

export interface Mailer {
  /** Resolves once the SMTP server accepted the message; rejects on any SMTP failure. */
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** smtp:// or smtps:// URL; unset → messages are rendered and written to the log. */
  smtpUrl?: string;
  from: string;
  logger: Logger;
}

/** Sends email over SMTP with nodemailer, or logs it (nodemailer's JSON transport) when no SMTP URL is set. */
export function createMailer(options: MailerOptions): Mailer {
  const transport = options.smtpUrl
    ? nodemailer.createTransport(options.smtpUrl)
    : nodemailer.createTransport({ jsonTransport: true });
  const log = options.logger;
  return {
    async send(email) {
      const info = await transport.sendMail({
        from: options.from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        ...(email.html === undefined ? {} : { html: email.html }),
        messageId: email.messageId,
        headers: Object.fromEntries(
          Object.entries(email.headers).map(([name, value]) => [name, verbatimIfSafe(value)]),
        ),
      });
      if (!options.smtpUrl) {
        // The JSON transport renders the message into `info.message` instead of sending it.
        const rendered = (info as unknown as { message: string }).message;
        log.info(
          { email: JSON.parse(rendered) as unknown },
          'email (no SMTP_URL set: logged instead of sent)',
        );
      }
    },
    close() {
      transport.close();
    },
  };
}

/**
 * A header value of printable ASCII without spaces (every Herald id) is a valid header
 * body as it is, so it goes out verbatim: nodemailer would otherwise wrap one holding
 * `"`, `<`, `(`, `;` and the like in RFC 2047 encoded-words, and an `X-Herald-Event-Id`
 * would no longer read as the event id. Anything else is left to nodemailer to encode.
 */
function verbatimIfSafe(value: string): string | { prepared: boolean; value: string } {
  return /^[\x21-\x7E]{1,900}$/.test(value) ? { prepared: true, value } : value;
}

/** Keeps only characters that are safe on the left of a Message-ID's '@'; the rest are %-escaped. */
function messageIdPart(value: string): string {
  return Array.from(new TextEncoder().encode(value), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/**
 * The Message-ID of the fallback email of (event, user), the same on every attempt,
 * so a mail system that does see a duplicate can recognise it as one.
 */
export function fallbackMessageId(eventId: string, userId: string): string {
  return `<${messageIdPart(eventId)}.${messageIdPart(userId)}@herald>`;
}
