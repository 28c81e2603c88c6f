import { describe, expect, it } from 'vitest';
import { defaultTemplates, renderEmail } from './email-templates.js';

describe('renderEmail', () => {
  it('uses the notification title as subject and puts the message in the body', () => {
    const mail = renderEmail(defaultTemplates, 'notification:new', {
      notification: { title: 'Your order shipped', message: 'It arrives on <Monday>' },
    });
    expect(mail.subject).toBe('Your order shipped');
    expect(mail.text).toContain('It arrives on <Monday>');
    expect(mail.html).toContain('It arrives on &#60;Monday&#62;');
  });

  it('stands the message in for a missing title, as the original module allowed', () => {
    const mail = renderEmail(defaultTemplates, 'notification:new', {
      notification: { type: 'group_message', groupId: 'g1', message: 'New message in the group' },
    });
    expect(mail.subject).toBe('New message in the group');
  });

  it('renders other events generically with the payload as JSON', () => {
    const payload = { amount: 5, source: 'quiz', totalXp: 50 };
    const mail = renderEmail(defaultTemplates, 'xp:gained', payload);
    expect(mail.subject).toBe('New xp:gained');
    expect(JSON.parse(mail.text)).toEqual(payload);
  });

  it('falls back to the generic mail when a notification does not fit the default schema', () => {
    expect(renderEmail(defaultTemplates, 'notification:new', { other: 1 }).subject).toBe(
      'New notification:new',
    );
  });

  it('keeps line breaks out of the subject header', () => {
    const mail = renderEmail(defaultTemplates, 'notification:new', {
      notification: { title: 'a\r\nBcc: x@y.z' },
    });
    expect(mail.subject).toBe('a Bcc: x@y.z');
  });

  it('prefers an application template, and ignores inherited names', () => {
    const templates = { ...defaultTemplates, 'order:shipped': () => ({ subject: 'Shipped', text: 't' }) };
    expect(renderEmail(templates, 'order:shipped', {}).subject).toBe('Shipped');
    expect(renderEmail(templates, 'toString', {}).subject).toBe('New toString');
  });
});
