import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@herald/testing';
import { notification, startFallbackStack, useCleanup } from './support.js';

/** After the expected emails, how long we keep watching for more. */
const EXTRA_WAIT_MS = 1_000;

const email = (label: string) => `${label}-${crypto.randomUUID().slice(0, 6)}@example.com`;

/** The value of a header in a raw message (unfolded), or undefined. */
function header(raw: string, name: string): string | undefined {
  const unfolded = raw.split(/\r?\n\r?\n/)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

describe('regression: keys built from ids collide', () => {
  const defer = useCleanup();

  it('emails both users when event colA:b to user c and event colA to user b:c would share a key', async () => {
    // A fresh prefix per stack: these exact ids cannot meet another test's.
    const stack = await startFallbackStack(defer);
    const first = email('first');
    const second = email('second');
    await stack.publisher
      .toUser('c')
      .emit('notification:new', notification('For c'), { eventId: 'colA:b', fallback: { email: first } });
    await stack.publisher
      .toUser('b:c')
      .emit('notification:new', notification('For b:c'), { eventId: 'colA', fallback: { email: second } });

    await waitFor(() => stack.mailsTo(first).length > 0 && stack.mailsTo(second).length > 0, {
      timeoutMs: 15_000,
      message: 'both fallback emails arrived',
    });
    await sleep(EXTRA_WAIT_MS);
    expect(stack.mailsTo(first).map((m) => m.subject)).toEqual(['For c']);
    expect(stack.mailsTo(second).map((m) => m.subject)).toEqual(['For b:c']);
    // The Message-IDs differ too: mail systems that dedupe on them keep both.
    expect(header(stack.mailsTo(first)[0]!.raw, 'Message-ID')).toBe('<colA%3Ab.c@herald>');
    expect(header(stack.mailsTo(second)[0]!.raw, 'Message-ID')).toBe('<colA.b%3Ac@herald>');
  });

  it('emails a user whose id and event id are full of separators, with a valid Message-ID and the event id header intact', async () => {
    const stack = await startFallbackStack(defer);
    const to = email('odd');
    // Every printable ASCII character that means something in a header, a URL or a key.
    const eventId = `ev"<a>(b)[c]\\;,@%/?#!$&'+=^\`|~:.`;
    const userId = 'u|1/2?3#4%5:6@7';
    const id = await stack.publisher
      .toUser(userId)
      .emit('notification:new', notification('Odd ids'), { eventId, fallback: { email: to } });
    expect(id).toBe(eventId);

    await waitFor(() => stack.mailsTo(to).length > 0, { timeoutMs: 15_000, message: 'the email arrived' });
    await sleep(EXTRA_WAIT_MS);
    const mails = stack.mailsTo(to);
    expect(mails).toHaveLength(1);
    const messageId = header(mails[0]!.raw, 'Message-ID');
    // RFC 5322 msg-id: "<" dot-atom-text "@" ... ">", the left side only atext and dots.
    expect(messageId).toMatch(/^<[A-Za-z0-9_%-]+\.[A-Za-z0-9_%-]+@herald>$/);
    expect(header(mails[0]!.raw, 'X-Herald-Event-Id')).toBe(eventId);
  });
});
