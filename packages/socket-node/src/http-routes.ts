import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@herald/core';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { sendJson } from '@herald/core';

export interface HttpRoutesOptions {
  /** Resolves when the node can do its job (Redis answers); rejects or resolves false otherwise. */
  isReady: () => Promise<boolean>;
  /** Routes of whoever embeds the node; resolves true when it handled the request. */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  logger: Logger;
}

/**
 * The HTTP side of a node, for everything Socket.IO does not claim (it intercepts
 * its own path before this runs): `/healthz` (the process answers), `/readyz`
 * (Redis answers, so a load balancer only routes to nodes that can deliver),
 * then the embedder's routes, then 404.
 */
export function createHttpRoutes(options: HttpRoutesOptions) {
  const log = options.logger;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (isGet && path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (isGet && path === '/readyz') {
      const ready = await options.isReady().catch(() => false);
      sendJson(
        res,
        ready ? 200 : 503,
        ready ? { status: 'ok' } : { status: 'unavailable', reason: 'redis is not answering' },
      );
      return;
    }
    if (options.httpHandler && (await options.httpHandler(req, res))) return;
    const error = new HeraldError(
      HeraldErrorCode.notFound,
      `No route for ${req.method ?? 'GET'} ${path ?? '/'}`,
    );
    sendJson(res, 404, error.toJSON());
  }

  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    route(req, res).catch((error: unknown) => {
      log.error({ err: error, method: req.method, url: req.url }, 'http request failed');
      if (!res.headersSent) {
        sendJson(
          res,
          500,
          new HeraldError(HeraldErrorCode.internal, 'Internal error: see the server log').toJSON(),
        );
      } else {
        res.destroy();
      }
    });
  };
}
