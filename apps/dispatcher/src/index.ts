export { startDispatcher } from './start-dispatcher.js';
export type { Dispatcher, DispatcherOptions } from './start-dispatcher.js';
export { deliverEvent, parseEventJob } from './deliver-event.js';
export type { DeliverEventDeps, DeliveryResult, ParsedEventJob } from './deliver-event.js';
export { fallbackJobId, toFallbackJob } from './fallback-jobs.js';
export type { FallbackJobSettings } from './fallback-jobs.js';
