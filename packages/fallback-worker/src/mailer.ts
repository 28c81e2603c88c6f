import nodemailer from 'nodemailer';
import type { Logger as NodemailerLogger } from 'nodemailer/lib/shared/index.js';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Logger } from '@herald/core';
import { addressHash, withoutAddress } from './address-in-logs.js';
import type { EmailContent } from './email-templates.js';

export interface OutgoingEmail extends EmailContent {
  to: string;
  messageId: string;
  headers: Record<string, string>;
}

export interface Mailer {
  /**
   * Resolves once the SMTP server accepted the message; rejects on any SMTP failure, with
   * an error that no longer holds the recipient's address (see `withoutAddress`).
   */
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** smtp:// or smtps:// URL; unset → messages are rendered and written to the log. */
  smtpUrl?: string;
  from: string;
  logger: Logger;
}

/**
 * nodemailer's own log lines, through pino at debug whatever level nodemailer gives them:
 * they name recipients ("Sending message … to <ana@example.com>") and, with `?debug=true`
 * in SMTP_URL, hold the whole SMTP transcript. Through pino they get its redaction too.
 */
function nodemailerLogger(log: Logger): NodemailerLogger {
  const write = (entry: object, message: string, ...args: unknown[]) =>
    log.debug({ nodemailer: entry }, message, ...args);
  return {
    level: () => undefined,
    trace: write,
    debug: write,
    info: write,
    warn: write,
    error: write,
    fatal: write,
  };
}

/**
 * The SMTP transport of `smtpUrl`, logging through `log`. Built here rather than by
 * `createTransport(url)`, which takes no other option with a URL. The URL's `logger`
 * parameter is dropped: nodemailer lets URL parameters override options given in code, and
 * `?logger=true` would print to stdout past pino, at every level. The others apply as
 * before (`debug=true` only adds lines to the logger, which is ours; `pool=true` pools).
 */
function smtpTransport(smtpUrl: string, log: Logger) {
  const url = new URL(smtpUrl);
  url.searchParams.delete('logger');
  const options = { url: url.toString(), logger: nodemailerLogger(log) };
  return url.searchParams.get('pool') === 'true'
    ? nodemailer.createTransport(new SMTPPool({ ...options, pool: true }))
    : nodemailer.createTransport(new SMTPTransport(options));
}

/** Sends email over SMTP with nodemailer, or logs it (nodemailer's JSON transport) when no SMTP URL is set. */
export function createMailer(options: MailerOptions): Mailer {
  const log = options.logger;
  const transport = options.smtpUrl
    ? smtpTransport(options.smtpUrl, log)
    : nodemailer.createTransport({ jsonTransport: true });
  return {
    async send(email) {
      let info: unknown;
      try {
        info = await transport.sendMail({
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
      } catch (error) {
        throw withoutAddress(error, email.to);
      }
      if (!options.smtpUrl) {
        // The JSON transport renders the message into `info.message` instead of sending it.
        // The recipient is left out at info, as in every other line (the caller logs it at debug).
        const rendered = JSON.parse((info as { message: string }).message) as Record<string, unknown>;
        delete rendered.to;
        log.info(
          { email: { ...rendered, toHash: addressHash(email.to) } },
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
