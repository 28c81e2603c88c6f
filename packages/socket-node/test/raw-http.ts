import http from 'node:http';
import { randomBytes } from 'node:crypto';

/** What a raw handshake got back: 101 for an accepted websocket upgrade, else the HTTP answer. */
export interface RawAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * The first request of the polling transport, as a browser or a script would send
 * it (Node's fetch may set `Origin`; socket.io-client's polling transport may not).
 */
export async function pollingHandshake(
  url: string,
  headers: Record<string, string> = {},
): Promise<RawAnswer & { sid?: string }> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
  const body = await res.text();
  // An accepted handshake answers `0{"sid":"…",…}` (an Engine.IO open packet).
  const sid = res.status === 200 ? (JSON.parse(body.slice(1)) as { sid: string }).sid : undefined;
  const answerHeaders: http.IncomingHttpHeaders = {};
  res.headers.forEach((value, name) => (answerHeaders[name] = value));
  return { status: res.status, body, headers: answerHeaders, ...(sid ? { sid } : {}) };
}

/**
 * A websocket handshake (the HTTP upgrade request a browser sends, with its headers).
 * An accepted upgrade is closed at once: only the answer matters.
 */
export function websocketHandshake(url: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/socket.io/?EIO=4&transport=websocket`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
