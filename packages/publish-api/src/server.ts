import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toHeraldError } from '@herald/contracts';
import { httpTimeouts, sendJson, type HttpTimeoutOptions } from '@herald/core';
import { RETRY_AFTER_S, createPublishApiHandler, type PublishApiOptions } from './handler.js';

export interface StartPublishApiOptions extends PublishApiOptions, HttpTimeoutOptions {
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

/** The status line Node itself would send for a client error, had we no 'clientError' listener. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  return '400 Bad Request';
}

/**
 * Runs the publish API on its own HTTP server, with `GET /healthz` (the process is up:
 * always 200) and `GET /readyz` (200 while Redis answers a PING within the publisher's
 * `redisTimeoutMs`, else 503 `unavailable` with `Retry-After`, answered within that bound).
 * Other paths outside /v1 get a JSON 404.
 */
export async function startPublishApi(options: StartPublishApiOptions): Promise<PublishApi> {
  const handle = createPublishApiHandler(options);
  const timeouts = httpTimeouts(options, 'startPublishApi');
  const log = options.logger.child({ component: 'publish-api-server' });
  const server = createServer(timeouts, (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (pathname === '/readyz') {
      options.publisher.checkRedis().then(
        () => sendJson(res, 200, { status: 'ready' }),
        (error: unknown) => {
          const refused = toHeraldError(error);
          res.setHeader('retry-after', String(RETRY_AFTER_S));
          sendJson(res, 503, { error: { code: refused.code, message: refused.message, issues: [] } });
        },
      );
      return;
    }
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
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    log.debug({ err: error }, 'malformed or too slow HTTP request');
    // As Node does without a listener: answer unless a response already started on this socket.
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !response?.headersSent) {
      socket.write(`HTTP/1.1 ${clientErrorStatus(error.code)}\r\nConnection: close\r\n\r\n`);
    }
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
