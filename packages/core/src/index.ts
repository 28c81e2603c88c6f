export {
  commonEnv,
  envInt,
  envList,
  envLogLevel,
  envPort,
  envPrefix,
  envRedisUrl,
  inboxEnv,
  loadConfigOrExit,
  parseEnv,
} from './config.js';
export { REDACTED_PATHS, createLogger, silentLogger } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { Redis, closeRedis, createRedis } from './redis.js';
export { defineHeraldScripts } from './herald-scripts.js';
export { DEFAULT_PARTITIONS, MAX_PARTITIONS, createKeys, groupByPartition, hashId } from './keys.js';
export { checkPartitions } from './partitions-check.js';
export {
  createRedisClient,
  isCluster,
  envRedisClusterNodes,
  parseRedisClusterNodes,
  redisSpecFromEnv,
} from './redis-client.js';
export { REDIS_CLUSTER_SCHEME, parseRedisUrl } from './redis-url.js';
export type {
  RedisClient,
  RedisClientOptions,
  RedisConnectionSpec,
  RedisNodeAddress,
} from './redis-client.js';
export { DEFAULT_REDIS_TIMEOUT_MS, createRedisDeadline } from './redis-deadline.js';
export { MAX_WAIT_REPLICAS, serverOf, waitForReplicas } from './wait-replicas.js';
export { TimeoutError, withTimeout } from './with-timeout.js';
export type { RedisDeadline } from './redis-deadline.js';
export type { RedisKeys } from './keys.js';
export {
  EVENT_RECORD_TTL_S,
  appendEntry,
  claimEventId,
  entryTail,
  parseEntrySeqs,
  readAckedSeqs,
  readLatestSeq,
  readLivePresence,
  readReplay,
  recordAck,
  recordAcks,
} from './inbox.js';
export type {
  AppendResult,
  ClaimResult,
  FingerprintPart,
  InboxSettings,
  Replay,
  SequenceItem,
} from './inbox.js';
export {
  DEFAULT_MAX_DELIVERIES,
  DISPATCHERS_GROUP,
  ensureDispatcherGroups,
  readStreamBacklog,
  readStreamEntries,
  trimAcknowledged,
} from './event-streams.js';
export type { StoredEntry, StreamBacklog } from './event-streams.js';
export {
  DEFAULT_PRESENCE_TTL_MS,
  PresenceReader,
  PresenceRegistry,
  countDevices,
  hasPlainDevice,
} from './presence.js';
export type { PresenceRegistryOptions, UserDevices } from './presence.js';
export { DEFAULT_CLOCK_TOLERANCE_S, MAX_TOKEN_BYTES, verifyAccessToken } from './jwt.js';
export type { Identity, VerifyTokenOptions } from './jwt.js';
export { JWT_ALGORITHMS, KeyRing, MIN_SECRET_BYTES, createKeyRing, isJwtAlgorithm } from './jwt-keys.js';
export type { JwtAlgorithm, KeyRingOptions, VerificationKey, VerificationKeyInput } from './jwt-keys.js';
export { EMAIL_TTL_S, lookupEmail, rememberEmail } from './contacts.js';
export { CLIENT_EVENTS_MAXLEN, appendClientEvent, consumeClientEvents } from './client-events-stream.js';
export type {
  AppendClientEventInput,
  ClientEventHandler,
  ClientEventsConsumer,
  ConsumeClientEventsOptions,
} from './client-events-stream.js';
export { BodyTooLargeError, DEFAULT_BODY_LIMIT_BYTES, readJsonBody, sendJson } from './http.js';
export { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, httpTimeouts } from './http-timeouts.js';
export type { HttpTimeoutOptions } from './http-timeouts.js';
export { jobLockOptions } from './job-lock.js';
export { exitOnSignal } from './shutdown.js';
export { REDIS_ERROR_LOG_EVERY_MS, redisErrorLogger } from './redis-errors.js';
export type { ShutdownOptions } from './shutdown.js';
export { createNodeId } from './node-id.js';
export { RESERVED_EVENTS, createShardedEmitter, namespaceChannel, roomChannel } from './sharded-emitter.js';
export type {
  ShardedBatching,
  ShardedBroadcast,
  ShardedEmitter,
  ShardedEmitterOptions,
} from './sharded-emitter.js';
