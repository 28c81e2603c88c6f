import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear: tokens, API keys, passwords and
 * URLs that may carry credentials must never reach a log line.
 */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'auth.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
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
  'redisUrl',
  '*.redisUrl',
  'smtpUrl',
  '*.smtpUrl',
];

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
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that drops everything, for libraries used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
