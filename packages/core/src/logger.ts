import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear: tokens, API keys, passwords and
 * URLs that may carry credentials must never reach a log line. Values that slip
 * past these names (a URL with a password in an error message, a token in a
 * header dump) are caught by `scrubSecrets` on the finished line.
 */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'auth.token',
  'handshake.auth.token',
  '*.handshake.auth.token',
  'query.token',
  '*.query.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'pass',
  '*.pass',
  'secret',
  '*.secret',
  'jwtSecret',
  '*.jwtSecret',
  'privateKey',
  '*.privateKey',
  'redisUrl',
  '*.redisUrl',
  'smtpUrl',
  '*.smtpUrl',
  // Environment dumps.
  'JWT_SECRET',
  '*.JWT_SECRET',
  'HERALD_API_KEY',
  '*.HERALD_API_KEY',
  'REDIS_URL',
  '*.REDIS_URL',
  'SMTP_URL',
  '*.SMTP_URL',
];

const CENSOR = '[redacted]';

/**
 * Secret-shaped text, replaced on every finished log line whatever key it sits under.
 * Each pattern stops at `"` and `\`, so a replacement never breaks the JSON around it.
 */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host → scheme://user:[redacted]@host (REDIS_URL, SMTP_URL, …)
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/"\\]*):[^\s@/"\\]+@/gi, `$1:${CENSOR}@`],
  // JSON Web Tokens (header and payload are base64url JSON, so they start with "eyJ").
  [/\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, CENSOR],
  // Authorization header values written out as text.
  [/\b(Bearer|Basic)\s+[^\s"\\,;]+/gi, `$1 ${CENSOR}`],
  // Credentials in query strings.
  [/([?&](?:token|access_token|api_key|apikey|password|secret)=)[^&\s"\\#]+/gi, `$1${CENSOR}`],
];

/** Replaces credentials in URLs, JWTs, Bearer/Basic values and credential query parameters. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Redis commands whose arguments are credentials (ioredis puts the failed command on its errors). */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * pino's error serializer, minus credentials: ioredis attaches the failing command to a
 * ReplyError, so a wrong Redis password would otherwise be logged as
 * `err.command.args` ("WRONGPASS …", args: ['the-password']). Causes are serialized
 * by pino as nested errors and get the same treatment.
 */
function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown;
  const clean = (value: unknown, depth: number): void => {
    if (typeof value !== 'object' || value === null || depth > 5) return;
    const record = value as Record<string, unknown>;
    const command = record.command as { name?: unknown; args?: unknown } | undefined;
    if (
      typeof command === 'object' &&
      command !== null &&
      typeof command.name === 'string' &&
      CREDENTIAL_COMMANDS.has(command.name.toLowerCase())
    ) {
      record.command = { ...command, args: CENSOR };
    }
    clean(record.cause, depth + 1);
    if (Array.isArray(record.aggregateErrors)) for (const e of record.aggregateErrors) clean(e, depth + 1);
  };
  clean(serialized, 0);
  return serialized;
}

export interface LoggerOptions {
  /** @default 'info' */
  level?: string;
  /** Names the process in every line. */
  name: string;
  /** Where lines go; tests pass a stream to capture them. @default stdout */
  destination?: DestinationStream;
}

/** The root logger of a process; components take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      serializers: { err: serializeError },
      // The last look at each line (message, bindings and all): what no path names is still caught here.
      hooks: { streamWrite: scrubSecrets },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that drops everything, for libraries used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
