export { RETRY_AFTER_S, createPublishApiHandler } from './handler.js';
export type { ApiErrorBody, PublishApiOptions } from './handler.js';
export { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, startPublishApi } from './server.js';
export type { PublishApi, StartPublishApiOptions } from './server.js';
