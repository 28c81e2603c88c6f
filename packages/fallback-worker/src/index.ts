export { startFallbackWorker } from './start-fallback-worker.js';
export type { FallbackWorker, FallbackWorkerOptions } from './start-fallback-worker.js';
export { SENDS_PER_JOB, deliverFallback, parseFallbackJob } from './deliver-fallback.js';
export { fallbackMarkTtlMs } from './mark-ttl.js';
export type { MarkTtlSettings } from './mark-ttl.js';
export type { DeliverFallbackDeps, FallbackOutcome } from './deliver-fallback.js';
export {
  defaultTemplates,
  genericTemplate,
  notificationNewTemplate,
  renderEmail,
} from './email-templates.js';
export type { EmailContent, EmailTemplate } from './email-templates.js';
export { createMailer, fallbackMessageId } from './mailer.js';
export { addressHash } from './address-in-logs.js';
export type { Mailer, MailerOptions, OutgoingEmail } from './mailer.js';
