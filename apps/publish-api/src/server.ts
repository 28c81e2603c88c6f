import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from '@herald/core';
import { createPublishApiHandler, type PublishApiOptions } from './handler.js';

export interface StartPublishApiOptions extends PublishApiOptions {
  /** 0 picks a free port (tests). @default 3001 */
  port?: number;
  /** @default '0.0.0.0' */
  host?: string;
}

export interface PublishApi {
  server: Server;
  /** The port actually bound (useful with `port: 0`). */
  port: number;
  /** Stops accepting, ends idle keep-alive connections, and waits for the server to close. Leaves the publisher open. */
  close(): Promise<void>;
}

/** Runs the publish API on its own HTTP server. Paths outside /v1 get a JSON 404. */
export async function startPublishApi(options: StartPublishApiOptions): Promise<PublishApi> {
  const handle = createPublishApiHandler(options);
  const log = options.logger.child({ component: 'publish-api-server' });
  const server = createServer((req, res) => {
    handle(req, res)
      .then((handled) => {
        if (!handled) {
          sendJson(res, 404, {
            error: {
              code: 'not_found',
              message: 'Use POST /v1/publish or GET /v1/presence/:userId',
              issues: [],
            },
          });
        }
      })
      // The handler never rejects; this is the last guard that keeps the process alive if it ever did.
      .catch((error: unknown) => {
        log.error({ err: error }, 'request handler failed');
        res.destroy();
      });
  });
  server.on('clientError', (error, socket) => {
    log.debug({ err: error }, 'malformed HTTP request');
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      // close() waits for keep-alive sockets to time out; end the idle ones now.
      server.closeIdleConnections();
      await closed;
    },
  };
}
