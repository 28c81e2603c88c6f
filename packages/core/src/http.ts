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

/** Reads and parses a JSON body, refusing more than `limitBytes` before parsing. */
export async function readJsonBody(
  req: IncomingMessage,
  limitBytes = DEFAULT_BODY_LIMIT_BYTES,
): Promise<unknown> {
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
    return JSON.parse(text) as unknown;
  } catch (error) {
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
