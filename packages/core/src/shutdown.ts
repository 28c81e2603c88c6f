import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** The process exits 1 if closing takes longer. @default 10_000 */
  timeoutMs?: number;
  logger: Logger;
}

/**
 * Runs `close` once on SIGTERM or SIGINT, then exits 0; exits 1 if closing
 * throws or overruns `timeoutMs`, so an orchestrator never waits forever.
 */
export function exitOnSignal(close: () => Promise<void>, options: ShutdownOptions): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    options.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs ?? 10_000 }, 'shutdown timed out');
      options.logger.flush();
      process.exit(1);
    }, options.timeoutMs ?? 10_000);
    timer.unref();
    close().then(
      () => {
        options.logger.info('stopped');
        options.logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'shutdown failed');
        options.logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
