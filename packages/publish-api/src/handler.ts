import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EventId,
  HeraldError,
  HeraldErrorCode,
  toFieldIssues,
  type Catalog,
  type FieldIssue,
  type PublishRequest,
} from '@herald/contracts';
import {
  BodyTooLargeError,
  DEFAULT_BODY_LIMIT_BYTES,
  readJsonBody,
  sendJson,
  type Logger,
} from '@herald/core';
import type { Publisher } from '@herald/publisher';
import { createApiKeyCheck } from './api-key.js';

export interface PublishApiOptions {
  /** Where requests are published; the caller owns it (the API never closes it). */
  publisher: Publisher<Catalog>;
  /** The shared secret producers send as `Authorization: Bearer <apiKey>`. At least 16 characters. */
  apiKey: string;
  logger: Logger;
  /** Largest accepted request body, refused with 413 before parsing. @default 1 MiB */
  bodyLimitBytes?: number;
}

/** What every error response looks like: `{ error: { code, message, issues } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; issues: FieldIssue[] };
}

/** The status a refused request gets, by error code. Anything not listed is a 500. */
const STATUS_BY_CODE: Partial<Record<HeraldErrorCode, number>> = {
  [HeraldErrorCode.unknownEvent]: 400,
  [HeraldErrorCode.invalidPayload]: 400,
  [HeraldErrorCode.badRequest]: 400,
  [HeraldErrorCode.unauthorized]: 401,
  [HeraldErrorCode.notFound]: 404,
  [HeraldErrorCode.eventIdConflict]: 409,
  [HeraldErrorCode.unsupportedMediaType]: 415,
  [HeraldErrorCode.unavailable]: 503,
};

/**
 * Seconds a producer is told to wait after a 503 (`Retry-After`). Redis restarts and
 * failovers take seconds; the client reconnects on its own meanwhile.
 */
export const RETRY_AFTER_S = 1;

/**
 * Where the `Idempotency-Key` header goes: the body's `eventId` when it has none. Checked
 * with the same schema as `eventId`; a body `eventId` that differs is a 400 naming both,
 * since either could be the one the producer meant.
 */
function applyIdempotencyKey(body: unknown, header: string | string[] | undefined): unknown {
  if (header === undefined) return body;
  const parsed = EventId.safeParse(Array.isArray(header) ? header.join(',') : header);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error, 'Idempotency-Key');
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      `Invalid Idempotency-Key header (it is used as the eventId): ${issues.map((i) => i.message).join('; ')}`,
      { issues },
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const { eventId } = body as { eventId?: unknown };
  if (eventId === undefined) return { ...body, eventId: parsed.data };
  if (eventId !== parsed.data) {
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      `The Idempotency-Key header (${JSON.stringify(parsed.data)}) and the body's eventId (${JSON.stringify(eventId)}) differ: send one of them, or the same value in both`,
      {
        issues: [
          { path: 'Idempotency-Key', message: 'differs from eventId' },
          { path: 'eventId', message: 'differs from the Idempotency-Key header' },
        ],
      },
    );
  }
  return body;
}

class MethodNotAllowed extends HeraldError {
  constructor(
    method: string | undefined,
    readonly allow: string,
  ) {
    super(HeraldErrorCode.badRequest, `Method ${method ?? '?'} is not allowed here; use ${allow}`);
  }
}

function sendError(
  res: ServerResponse,
  status: number,
  error: HeraldError,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  const body: ApiErrorBody = { error: { code: error.code, message: error.message, issues: error.issues } };
  sendJson(res, status, body);
}

/** `/v1/presence/<id>` → the decoded id; `undefined` when the path is another one. */
function presencePath(pathname: string): string | undefined {
  const match = /^\/v1\/presence\/([^/]+)$/.exec(pathname);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1] as string);
  } catch {
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      'The user id in the path is not valid percent-encoding',
      {
        issues: [{ path: 'userId', message: 'invalid percent-encoding' }],
      },
    );
  }
}

/**
 * Handles /v1/* requests; resolves false for other paths so it can share a server
 * (the local stack mounts it next to Socket.IO). It never rejects: unexpected
 * errors are logged and answered with 500, so a bad request cannot crash the process.
 *
 * - `POST /v1/publish` (Bearer key) body `PublishRequest` (`application/json`; the
 *   `Idempotency-Key` header is the `eventId` when the body has none) → `202 { id }`;
 *   `409 event_id_conflict` for an `eventId` published in the last 24 h with another
 *   event, target, payload or fallback; `415` for another content type
 * - `GET /v1/presence/:userId` (Bearer key) → `200 { userId, online, devices }`
 *
 * Either answers `503 unavailable` with `Retry-After` when Redis does not answer within
 * the publisher's `redisTimeoutMs` (at once while it is known to be down). A publish
 * refused so may still have been published, if its MULTI was sent: retrying it with the
 * same `eventId` (or `Idempotency-Key`) is safe, as the retry is deduped.
 */
export function createPublishApiHandler(
  options: PublishApiOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  if (typeof options.apiKey !== 'string' || options.apiKey.length < 16) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      'createPublishApiHandler: apiKey must be at least 16 characters',
    );
  }
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      `createPublishApiHandler: bodyLimitBytes must be a positive integer, got ${bodyLimitBytes}`,
    );
  }
  const { publisher } = options;
  const isAuthorized = createApiKeyCheck(options.apiKey);
  const log = options.logger.child({ component: 'publish-api' });

  const authorize = (req: IncomingMessage) => {
    if (!isAuthorized(req.headers.authorization)) {
      const header = req.headers.authorization;
      throw new HeraldError(
        HeraldErrorCode.unauthorized,
        !header
          ? 'Send the API key as "Authorization: Bearer <key>"'
          : /^Bearer[ \t]+\S/i.test(header)
            ? 'The API key is wrong'
            : 'The Authorization header lacks the "Bearer " scheme: send "Authorization: Bearer <key>"',
      );
    }
  };

  const allow = (req: IncomingMessage, method: string) => {
    if (req.method !== method) throw new MethodNotAllowed(req.method, method);
  };

  const route = async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    if (pathname === '/v1/publish') {
      allow(req, 'POST');
      authorize(req);
      const body = applyIdempotencyKey(
        await readJsonBody(req, bodyLimitBytes),
        req.headers['idempotency-key'],
      );
      // `publish` checks the body's shape itself: it is the same path the TypeScript publisher takes.
      const id = await publisher.publish(body as PublishRequest);
      log.debug({ eventId: id }, 'accepted');
      sendJson(res, 202, { id });
      return;
    }
    const userId = presencePath(pathname);
    if (userId !== undefined) {
      allow(req, 'GET');
      authorize(req);
      const { online, devices } = await publisher.presence(userId);
      sendJson(res, 200, { userId, online, devices });
      return;
    }
    throw new HeraldError(
      HeraldErrorCode.notFound,
      `No route ${pathname}: use POST /v1/publish or GET /v1/presence/:userId`,
    );
  };

  return async (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== '/v1' && !pathname.startsWith('/v1/')) return false;
    try {
      await route(req, res, pathname);
    } catch (error) {
      if (res.headersSent) {
        log.error({ err: error, path: pathname }, 'request failed after the response started');
        res.destroy();
      } else if (error instanceof BodyTooLargeError) {
        // The rest of the body is not read; closing tells the client not to reuse the connection.
        sendError(res, 413, error, { connection: 'close' });
      } else if (error instanceof MethodNotAllowed) {
        sendError(res, 405, error, { allow: error.allow });
      } else if (error instanceof HeraldError && STATUS_BY_CODE[error.code] !== undefined) {
        const status = STATUS_BY_CODE[error.code] as number;
        if (status === 401) res.setHeader('www-authenticate', 'Bearer');
        if (status === 503) {
          res.setHeader('retry-after', String(RETRY_AFTER_S));
          // Debug only: an outage answers every request 503, and the connection's own errors
          // already say at warn that Redis is gone.
          log.debug({ path: pathname, err: error }, 'Redis unavailable; answered 503');
        }
        // Producers' mistakes are worth a line (the producer only sees its response); scanners' 404s are not.
        if (status === 400)
          log.info({ path: pathname, code: error.code, issues: error.issues }, 'request refused');
        sendError(res, status, error);
      } else {
        log.error({ err: error, method: req.method, path: pathname }, 'request failed');
        sendError(
          res,
          500,
          new HeraldError(HeraldErrorCode.internal, 'Internal error; the request was not published'),
        );
      }
    }
    return true;
  };
}
