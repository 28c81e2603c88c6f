export { startDispatcher } from './start-dispatcher.js';
export type { Dispatcher, DispatcherOptions } from './start-dispatcher.js';
export { PoisonEntryError, deliverEntry, parseEntry } from './deliver-event.js';
export type { DeliverEventDeps, DeliveryResult, ParsedEntry } from './deliver-event.js';
export { batchJobId, fallbackJobId, toFallbackJob } from './fallback-jobs.js';
export { createCheckBatcher } from './check-batcher.js';
export type { CheckBatcher, CheckBatcherOptions } from './check-batcher.js';
export type { FallbackJobSettings } from './fallback-jobs.js';
