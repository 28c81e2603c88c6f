import { NotificationNewPayload } from '@herald/contracts';

/** One rendered email. */
export interface EmailContent {
  subject: string;
  text: string;
  html?: string;
}

/** Renders the email of one event type from the payload as it was published. */
export type EmailTemplate = (payload: unknown) => EmailContent;

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * `notification:new`: the notification's title as subject, its message as body.
 * The original module's callers may send no title (`{ type, message }`): the
 * message, else a plain phrase, stands in for it.
 */
export const notificationNewTemplate: EmailTemplate = (payload) => {
  const parsed = NotificationNewPayload.safeParse(payload);
  // A catalog may redefine notification:new; anything that does not fit gets the generic mail.
  if (!parsed.success) return genericTemplate('notification:new')(payload);
  const { title, message } = parsed.data.notification;
  const subject = title ?? message ?? 'You have a new notification';
  const body = title && message ? message : undefined;
  const text = body ? `${subject}\n\n${body}\n` : `${subject}\n`;
  const html = `<h1>${escapeHtml(subject)}</h1>${body ? `<p>${escapeHtml(body)}</p>` : ''}`;
  return { subject, text, html };
};

/** Any other event: `New {event}` and the payload as JSON. */
export function genericTemplate(event: string): EmailTemplate {
  return (payload) => ({ subject: `New ${event}`, text: `${JSON.stringify(payload, null, 2)}\n` });
}

/** Templates Herald ships with; `startFallbackWorker({ templates })` adds to or replaces them. */
export const defaultTemplates: Record<string, EmailTemplate> = {
  'notification:new': notificationNewTemplate,
};

/**
 * Renders the email for `event`: its own template when there is one, else the generic one.
 * Line breaks are taken out of the subject, since it ends up in a mail header.
 */
export function renderEmail(
  templates: Record<string, EmailTemplate>,
  event: string,
  payload: unknown,
): EmailContent {
  const template = Object.hasOwn(templates, event) ? templates[event] : undefined;
  const content = (template ?? genericTemplate(event))(payload);
  return { ...content, subject: content.subject.replace(/[\r\n]+/g, ' ').trim() };
}
