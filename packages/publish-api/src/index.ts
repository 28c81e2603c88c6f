export { RETRY_AFTER_S, createPublishApiHandler } from './handler.js';
export type { ApiErrorBody, PublishApiOptions } from './handler.js';
export { startPublishApi } from './server.js';
export type { PublishApi, StartPublishApiOptions } from './server.js';
