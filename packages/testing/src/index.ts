export { uniquePrefix, uniqueUser, uniqueUsersOfOnePartition } from './ids.js';
export { TEST_JWT_SECRET, mintToken, mintUnsignedToken, signToken } from './tokens.js';
export type { MintTokenOptions } from './tokens.js';
export { sleep, waitFor } from './wait.js';
export { portAnswers } from './port-answers.js';
export { openRawHttp } from './raw-http.js';
export type { RawHttpConnection } from './raw-http.js';
export { startSmtpSink } from './smtp-sink.js';
export type { ReceivedMail, SmtpSink, SmtpSinkOptions } from './smtp-sink.js';
export { connectDevice, connectError } from './devices.js';
export type { ConnectDeviceOptions, Device, Received } from './devices.js';
export { REPO_ROOT, spawnApp } from './child-process.js';
export type { AppProcess } from './child-process.js';
export { freePort, keySlot, startRedisCluster, startRedisServer } from '@herald/local-redis';
export type {
  ClusterNode,
  RedisCluster,
  RedisServerChild,
  StartRedisClusterOptions,
} from '@herald/local-redis';
export { leakedSecrets, pinoLines } from './log-lines.js';
export { useCleanup } from './cleanup.js';
export type { Defer } from './cleanup.js';
export { prng, randomSecret } from './random.js';
export type { Random } from './random.js';
export { refusal } from './refusal.js';
