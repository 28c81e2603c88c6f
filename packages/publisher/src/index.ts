export { createPublisher } from './publisher.js';
export type { Publisher, PublisherConsumeOptions, PublisherOptions, Target } from './publisher.js';
export { createWebSocketService } from './websocket-service.js';
export type { NotificationInput, WebSocketService } from './websocket-service.js';
// Re-exported so producers need one import for the common case.
export {
  HeraldError,
  HeraldErrorCode,
  defaultCatalog,
  defineEvent,
  extendCatalog,
  isHeraldError,
} from '@herald/contracts';
export type { Catalog, DefaultCatalog, PayloadOf, PublishOptions, PublishRequest } from '@herald/contracts';
export type { ClientEventHandler, ClientEventsConsumer } from '@herald/core';
