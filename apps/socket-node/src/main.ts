import { createLogger, exitOnSignal, loadConfigOrExit } from '@herald/core';
import { SocketNodeEnv, socketNodeOptionsFromEnv, startSocketNode } from '@herald/socket-node';

const env = loadConfigOrExit(SocketNodeEnv);
const logger = createLogger({ name: 'socket-node', level: env.HERALD_LOG_LEVEL });

// Bad input must never take the node down (DESIGN.md, guarantee 7): log what escaped instead.
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

try {
  const node = await startSocketNode(socketNodeOptionsFromEnv(env, logger));
  exitOnSignal(() => node.close(), { logger, timeoutMs: 10_000 });
} catch (error) {
  logger.fatal({ err: error }, 'socket node failed to start');
  logger.flush();
  process.exit(1);
}
