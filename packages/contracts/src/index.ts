export { HeraldError, HeraldErrorCode, isHeraldError, toHeraldError } from './errors.js';
export type { FieldIssue, HeraldErrorOptions } from './errors.js';
export { describeIssues, formatPath, toFieldIssues } from './issues.js';
export {
  AchievementUnlockedPayload,
  FallbackChannel,
  LeaderboardUpdatedPayload,
  Notification,
  NotificationDeletedPayload,
  NotificationNewPayload,
  NotificationReadPayload,
  NotificationUnreadCountPayload,
  RankUpdatedPayload,
  XpGainedPayload,
  defaultCatalog,
  defineEvent,
  extendCatalog,
} from './catalog.js';
export type { Catalog, DefaultCatalog, EventDefinition, PayloadOf } from './catalog.js';
export {
  AuthenticatedPayload,
  ClientEventRecord,
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_INBOX_MAX,
  DEFAULT_INBOX_TTL_S,
  DeliveryMeta,
  ErrorPayload,
  GapPayload,
  InboxEntry,
  ReplayCursor,
  ResyncPayload,
  TokenExpiringPayload,
  clientEventSchemas,
  isProtocolEventName,
  protocolEventSchemas,
} from './protocol.js';
export type {
  ClientEventAck,
  ClientEventName,
  ClientEventPayload,
  HeraldAuthAck,
  ProtocolEventName,
  ProtocolEventPayload,
  SyncAck,
} from './protocol.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  FallbackOption,
  FallbackPolicy,
  JobTarget,
  MAX_USERS_PER_PUBLISH,
  PreparedEvent,
  PublishOptions,
  PublishRequest,
  PublishTarget,
  TARGET_SHAPES,
  prepareEvent,
} from './envelope.js';
export {
  EventId,
  ID_RULE,
  MAX_ID_LENGTH,
  NotificationId,
  RoomName,
  USER_ROOM_PREFIX,
  UserId,
  idProblem,
  isId,
  userRoom,
} from './ids.js';
export type { PrepareEventInput, PrepareEventSettings } from './envelope.js';
export {
  EVENTS_PER_ENTRY,
  EVENTS_PER_JOB,
  EventEntryData,
  EventItem,
  FallbackCheck,
  FallbackJobData,
  QueueName,
  USERS_PER_SLICE,
  chunk,
} from './jobs.js';
export type { ClientToServerEvents, ServerToClientEvents, SocketData } from './socket-events.js';
