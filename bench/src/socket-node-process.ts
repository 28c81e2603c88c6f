/**
 * A socket node as `apps/socket-node/src/main.ts` starts it (same env schema, same
 * options, same `startSocketNode`), plus one bench-only hook: the orchestrator can
 * ask it over IPC for its heap after gc (`--expose-gc`). Nothing in apps/ changes.
 */
import { writeHeapSnapshot } from 'node:v8';
import { createLogger, loadConfigOrExit } from '@herald/core';
import { SocketNodeEnv, socketNodeOptionsFromEnv, startSocketNode } from '@herald/socket-node';
import { serveRpc } from './rpc.js';
import { memoryAfterGc } from './memory-probe.js';

const env = loadConfigOrExit(SocketNodeEnv);
const logger = createLogger({ name: 'socket-node', level: env.HERALD_LOG_LEVEL });
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

const node = await startSocketNode(socketNodeOptionsFromEnv(env, logger));

let closing: Promise<void> | undefined;
const shutdown = () => {
  closing ??= node
    .close()
    .catch((error: unknown) => logger.error({ err: error }, 'close failed'))
    .finally(() => {
      logger.flush();
      process.exit(0);
    });
};
process.on('SIGTERM', shutdown);

const api = {
  memory: () => memoryAfterGc(() => node.io.engine.clientsCount),
  /** Writes a heap snapshot (after gc) to `file`, to see what each connection retains. */
  heapSnapshot: async (args: { file: string }) => {
    await memoryAfterGc(() => node.io.engine.clientsCount);
    return writeHeapSnapshot(args.file);
  },
};
export type SocketNodeApi = typeof api;
serveRpc(api, shutdown);
