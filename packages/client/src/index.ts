export { createHeraldClient } from './herald-client.js';
export type {
  Authenticated,
  ClientErrorReport,
  ClientErrorSource,
  ConnectionStatus,
  EventHandler,
  EventName,
  EventPayload,
  HeraldClient,
  HeraldClientOptions,
  HeraldSocket,
  Unsubscribe,
} from './herald-client.js';
export { DEFAULT_STORAGE_KEY } from './cursor-store.js';
export type { CursorStorage } from './cursor-store.js';
export { AckBatcher, DEFAULT_ACK_DELAY_MS } from './ack-batcher.js';
export type { AckBatcherOptions, AckDecision } from './ack-batcher.js';
export { Sequencer } from './sequencer.js';
export type { AnchorResult, Cursor, Delivery, SequencerOptions } from './sequencer.js';
