import { HeraldErrorCode, isHeraldError } from '@herald/contracts';
import { createLogger, exitOnSignal, loadConfigOrExit } from '@herald/core';
import { localStackEnv, printBanner, startLocalStack } from '@herald/local-stack';

const env = loadConfigOrExit(localStackEnv);
const logger = createLogger({ name: 'herald-local', level: env.HERALD_LOG_LEVEL });

const starting = startLocalStack({
  port: env.PORT,
  host: env.HOST,
  wsPath: env.WS_PATH,
  corsOrigins: env.CORS_ORIGIN,
  jwtSecret: env.JWT_SECRET,
  apiKey: env.HERALD_API_KEY,
  // Parsed, so an empty REDIS_URL counts as unset and the stack finds a Redis itself.
  env: { ...process.env, REDIS_URL: env.REDIS_URL },
  prefix: env.HERALD_REDIS_PREFIX,
  partitions: env.HERALD_PARTITIONS,
  ackTimeoutMs: env.HERALD_ACK_TIMEOUT_MS,
  redisTimeoutMs: env.HERALD_REDIS_TIMEOUT_MS,
  inboxMax: env.HERALD_INBOX_MAX,
  inboxTtlS: env.HERALD_INBOX_TTL_S,
  maxPayloadBytes: env.HERALD_MAX_PAYLOAD_BYTES,
  smtpUrl: env.SMTP_URL,
  mailFrom: env.MAIL_FROM,
  demoUser: env.HERALD_DEMO_USER,
  demoIntervalMs: env.HERALD_DEMO_INTERVAL_MS,
  logger,
});
// Registered before start-up finishes: a signal during it still closes what started (a private redis-server too).
exitOnSignal(async () => (await starting.catch(() => null))?.close(), { logger });

const stack = await starting.catch((error: unknown) => {
  // A set-up problem (no Redis, a bad option) is one readable line for the person at the
  // terminal, e.g. "No Redis found: set REDIS_URL …"; anything else is a bug worth its stack.
  if (isHeraldError(error, HeraldErrorCode.invalidConfig)) {
    process.stderr.write(`${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE') {
    process.stderr.write(
      `Port ${env.PORT} on ${env.HOST} is already in use: stop what uses it, or set PORT to another port\n`,
    );
  } else {
    logger.fatal({ err: error }, 'the local stack could not start');
  }
  logger.flush();
  process.exit(1);
});

printBanner({
  url: stack.url,
  userId: stack.credentials.userId,
  token: stack.credentials.token,
  apiKey: stack.credentials.apiKey,
  generated: stack.credentials.generated,
  redisSource: stack.redis.source,
  redisUrl: stack.redis.url,
  smtp: env.SMTP_URL !== undefined,
  demoIntervalMs: env.HERALD_DEMO_INTERVAL_MS,
});
