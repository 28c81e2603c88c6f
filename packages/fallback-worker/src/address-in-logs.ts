import { createHash } from 'node:crypto';

/**
 * A short stand-in for an email address in log lines above debug level: the same address
 * always gives the same 12 hex digits, so an operator can follow one recipient through the
 * log (and compare with `addressHash` of an address they already know) without the log
 * holding the address itself. It is a pseudonym, not anonymity: anyone holding a list of
 * candidate addresses can hash them and compare.
 *
 * @example addressHash('Ana@Example.com') === addressHash('ana@example.com')
 */
export function addressHash(address: string): string {
  return createHash('sha256').update(address.trim().toLowerCase()).digest('hex').slice(0, 12);
}

/** SMTP error fields worth keeping: none of them is the recipient itself. */
const KEPT_FIELDS = ['code', 'responseCode', 'command'] as const;

/**
 * A copy of an SMTP failure without the recipient's address, for everything that logs or
 * stores it (our warn lines, the job's failed reason in Redis, BullMQ's failed event).
 * A relay that refuses a recipient names it ("550 <ana@example.com>: Recipient address
 * rejected"), and nodemailer adds `rejected` and `rejectedErrors` listing it again; pino
 * would write all of them. The address becomes `addressHash(address)` in the text, and
 * the lists are left out. The original is not kept as `cause`, as pino serializes causes.
 */
export function withoutAddress(error: unknown, address: string): Error {
  const hide = (text: string) => replaceAll(text, address, `<address ${addressHash(address)}>`);
  if (!(error instanceof Error)) return new Error(hide(String(error)));
  const clean = new Error(hide(error.message));
  clean.name = error.name;
  const source = error as unknown as Record<string, unknown>;
  const target = clean as unknown as Record<string, unknown>;
  for (const field of KEPT_FIELDS) if (source[field] !== undefined) target[field] = source[field];
  if (typeof source.response === 'string') target.response = hide(source.response);
  return clean;
}

/** Replaces every occurrence of `needle` in `text`, ignoring case (mail systems change it). */
function replaceAll(text: string, needle: string, replacement: string): string {
  if (needle === '') return text;
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(escaped, 'gi'), replacement);
}
