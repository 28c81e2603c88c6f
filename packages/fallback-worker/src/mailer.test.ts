import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@herald/core';
import { addressHash } from './address-in-logs.js';
import { createMailer, fallbackMessageId } from './mailer.js';

describe('fallbackMessageId', () => {
  it('is <eventId.userId@herald> for plain ids', () => {
    expect(fallbackMessageId('0b7c-42', 'user_1')).toBe('<0b7c-42.user_1@herald>');
  });

  it('escapes characters that are not allowed or would be ambiguous', () => {
    const id = fallbackMessageId('evt:1@x', 'a.b<c>');
    expect(id).toBe('<evt%3A1%40x.a%2Eb%3Cc%3E@herald>');
    expect(fallbackMessageId('a.b', 'c')).not.toBe(fallbackMessageId('a', 'b.c'));
  });
});

describe('createMailer without an SMTP URL', () => {
  it('writes the rendered message to the log, with the address hash in place of the address', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logger = createLogger({ name: 'test', destination });
    const mailer = createMailer({ from: 'Herald <herald@localhost>', logger });
    await mailer.send({
      to: 'ana@example.com',
      subject: 'Hello',
      text: 'Body',
      messageId: '<e.u@herald>',
      headers: {},
    });
    mailer.close();
    const line = JSON.parse(lines.find((l) => l.includes('logged instead of sent')) ?? '{}');
    expect(line.email.subject).toBe('Hello');
    expect(line.email.to).toBeUndefined();
    expect(line.email.toHash).toBe(addressHash('ana@example.com'));
    expect(lines.join('')).not.toContain('ana@example.com');
    expect(line.email.messageId).toBe('<e.u@herald>');
  });
});
