import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';

/** Default limit on a request body: checked while reading, before any parsing. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Thrown by `readJsonBody` when the body exceeds the limit; the caller answers 413. */
export class BodyTooLargeError extends HeraldError {
  constructor(limit: number) {
    super(HeraldErrorCode.badRequest, `Request body is larger than ${limit} bytes`);
  }
}

/**
 * Refuses a body that does not say it is JSON (`unsupported_media_type`, a 415): a form
 * or a text body that happens to parse is a client bug better named than guessed at.
 * `application/json` with no charset or `charset=utf-8` is accepted.
 */
function checkContentType(header: string | undefined): void {
  const [type = '', ...params] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = params.find((param) => param.startsWith('charset='))?.slice('charset='.length);
  if (type === 'application/json' && (charset === undefined || /^"?utf-8"?$/.test(charset))) return;
  throw new HeraldError(
    HeraldErrorCode.unsupportedMediaType,
    header
      ? `Content-Type ${JSON.stringify(header)} is not accepted: send the body as "Content-Type: application/json" (UTF-8)`
      : 'The request has no Content-Type: send the body as "Content-Type: application/json" (UTF-8)',
    { issues: [{ path: 'Content-Type', message: 'expected application/json' }] },
  );
}

/**
 * `JSON.parse` turns a number too large for a double (`1e999999`) into Infinity, which
 * JSON cannot carry and later serializes as `null`: refuse it where it is read.
 */
function refuseNonFinite(key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new HeraldError(
      HeraldErrorCode.badRequest,
      `The number at ${key === '' ? 'the root' : JSON.stringify(key)} is too large to represent; send a finite number`,
      { issues: [{ path: key === '' ? '(root)' : key, message: 'number out of range' }] },
    );
  }
  return value;
}

/**
 * Reads and parses a JSON body: refuses a Content-Type other than `application/json`
 * (415), more than `limitBytes` before parsing (413) and numbers out of a double's range.
 */
export async function readJsonBody(
  req: IncomingMessage,
  limitBytes = DEFAULT_BODY_LIMIT_BYTES,
): Promise<unknown> {
  checkContentType(req.headers['content-type']);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw new BodyTooLargeError(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    throw new HeraldError(HeraldErrorCode.badRequest, 'Request body is empty: send a JSON object');
  }
  try {
    return JSON.parse(text, refuseNonFinite) as unknown;
  } catch (error) {
    if (error instanceof HeraldError) throw error;
    throw new HeraldError(HeraldErrorCode.badRequest, 'Request body is not valid JSON', { cause: error });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
