import type { FrameSpec } from './raw-websocket.js';

/**
 * Generators of malformed input for the fuzz test, at every layer a client
 * controls: WebSocket frames, Engine.IO packets, Socket.IO packets, event names
 * and payloads. All randomness comes from one seeded PRNG, so a failing run can
 * be replayed from its printed seed.
 */

export { prng, type Random } from '@herald/testing';
import type { Random } from '@herald/testing';

export const int = (r: Random, min: number, max: number) => min + Math.floor(r() * (max - min + 1));
export const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;

/** Bytes that are not valid UTF-8: lone continuation bytes, overlongs, surrogates, 0xFE/0xFF. */
const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xfe],
  [0xc0, 0x80],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc3],
];

export function invalidUtf8(r: Random, around: string): Buffer {
  const cut = int(r, 0, around.length);
  return Buffer.concat([
    Buffer.from(around.slice(0, cut)),
    Buffer.from(pick(r, INVALID_UTF8)),
    Buffer.from(around.slice(cut)),
  ]);
}

export function randomBytes(r: Random, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(r() * 256);
  return bytes;
}

const KEYS = [
  'notificationId',
  'userId',
  'user',
  'sub',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'then',
  '',
  'token',
];
const NUMBERS = [
  '0',
  '-0',
  '1e999',
  '-1e999',
  '1.7976931348623157e308',
  '5e-324',
  '9007199254740993',
  '123456789012345678901234567890123456789',
  '-1',
  '3.14',
  '1e-999',
];
const STRINGS = [
  '""',
  '"n-1"',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\u202e\\u200b"',
  '"😀"',
  '"<script>alert(1)</script>"',
  '"../../etc/passwd"',
  '"%s%n%x"',
  '"user:someone-else"',
];

/**
 * Random JSON text, written by hand so that keys such as `__proto__` appear as
 * own properties after JSON.parse (an object literal would set the prototype instead).
 */
export function randomJson(r: Random, depth = 0): string {
  const roll = r();
  if (depth > 4 || roll < 0.35) {
    const scalar = r();
    if (scalar < 0.3) return pick(r, NUMBERS);
    if (scalar < 0.6) return pick(r, STRINGS);
    if (scalar < 0.7) return JSON.stringify('x'.repeat(int(r, 0, 400)));
    if (scalar < 0.8) return pick(r, ['true', 'false', 'null']);
    return String(Math.floor(r() * 1e6));
  }
  if (roll < 0.6) {
    return `[${Array.from({ length: int(r, 0, 4) }, () => randomJson(r, depth + 1)).join(',')}]`;
  }
  const entries = Array.from(
    { length: int(r, 0, 4) },
    () => `${JSON.stringify(pick(r, KEYS))}:${randomJson(r, depth + 1)}`,
  );
  return `{${entries.join(',')}}`;
}

/** A mark_read payload that is almost right: the most likely to slip through a loose check. */
function nearMissPayload(r: Random): string {
  return pick(r, [
    `{"notificationId":${pick(r, NUMBERS)}}`,
    `{"notificationId":null}`,
    `{"notificationId":["n-1"]}`,
    `{"notificationId":{"toString":"n-1"}}`,
    `{"notificationId":true}`,
    `{"notificationId":""}`,
    `{"notificationId":"${'x'.repeat(201)}"}`,
    `{"notificationId":"n-1","userId":"someone-else"}`,
    `{"notificationId":"n-1","__proto__":{"polluted":true}}`,
    `{"__proto__":{"notificationId":"n-1"}}`,
    `{"constructor":{"prototype":{"polluted":true}},"notificationId":"n-1"}`,
    `{"notificationId":"n-1","notificationId":42}`,
    `{"NotificationId":"n-1"}`,
    `"n-1"`,
    `["n-1"]`,
    `null`,
  ]);
}

/** Deeply nested JSON: 10,000 levels of arrays or objects (JSON.parse copes; recursive code would not). */
function deepNesting(r: Random, levels = 10_000): string {
  return r() < 0.5
    ? `${'['.repeat(levels)}${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

const EVENT_NAMES = [
  'notification:mark_read',
  'herald:auth',
  'notification:mark_read ',
  'NOTIFICATION:MARK_READ',
  'notification:new',
  'authenticated',
  'error',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  '\u0000',
  'x'.repeat(5_000),
  'user:victim',
  '😀',
];

/** A Socket.IO packet type, an optional ack id that may be absurd. */
function ackId(r: Random): string {
  return pick(r, ['', '', String(int(r, 0, 1000)), '0', '99999999999999999999999', '007']);
}

export interface TextInput {
  kind: string;
  /** The Engine.IO packet (text), e.g. `42["x",1]`. */
  text: string;
  /**
   * Whether the server is expected to end the connection for it: true, false, or
   * 'maybe' (depends on state the generator does not know). Only used to pace the test.
   */
  fatal: boolean | 'maybe';
}

/**
 * One malformed Engine.IO/Socket.IO packet as text, good for a websocket text
 * frame and for a polling POST body alike. `token` is a valid access token,
 * used by packets that try to (re)connect namespaces with it.
 */
export function textInput(r: Random, token: string): TextInput {
  const roll = int(r, 0, 17);
  switch (roll) {
    case 0:
    case 1:
      return {
        kind: 'mark_read random payload',
        text: `42${ackId(r)}["notification:mark_read",${randomJson(r)}]`,
        fatal: false,
      };
    case 2:
    case 3:
      return {
        kind: 'mark_read wrong type / extra key / __proto__',
        text: `42${ackId(r)}["notification:mark_read",${nearMissPayload(r)}${r() < 0.3 ? `,${randomJson(r)}` : ''}]`,
        fatal: false,
      };
    case 4:
      return {
        kind: 'unknown or reserved-looking event name',
        text: `42${ackId(r)}[${JSON.stringify(pick(r, EVENT_NAMES))},${randomJson(r)}]`,
        fatal: false,
      };
    case 5:
      return {
        kind: 'event name that is a number',
        text: `42${ackId(r)}[${pick(r, NUMBERS)},${randomJson(r)}]`,
        fatal: false,
      };
    case 6:
      return {
        kind: 'herald:auth with a bad token',
        text: `42${ackId(r)}["herald:auth",${pick(r, [
          `{"token":${randomJson(r)}}`,
          `{"token":"${'e'.repeat(int(r, 1, 9_000))}"}`,
          `{"token":"a.b.c"}`,
          `{"token":"${token}","extra":1}`,
          randomJson(r),
        ])}]`,
        fatal: false,
      };
    case 7:
      return {
        kind: 'deep nesting (10,000 levels)',
        text: `42${ackId(r)}["notification:mark_read",${deepNesting(r)}]`,
        fatal: false,
      };
    case 8:
      return {
        kind: 'oversized string under the message limit',
        text: `42${ackId(r)}["notification:mark_read",{"notificationId":"${'x'.repeat(int(r, 201, 60_000))}"}]`,
        fatal: false,
      };
    case 9:
      return {
        kind: 'message over the 64 KB limit',
        text: `42["notification:mark_read",{"notificationId":"${'x'.repeat(int(r, 66_000, 200_000))}"}]`,
        fatal: true,
      };
    case 10:
      return {
        kind: 'wrong namespace',
        text: pick(r, [
          `40/admin,${JSON.stringify({ token })}`,
          `42/admin,["notification:mark_read",{"notificationId":"n"}]`,
          `40/${'n'.repeat(300)},`,
          `41/nowhere,`,
          `43/admin,1[]`,
        ]),
        fatal: false,
      };
    case 11:
      return {
        kind: 'CONNECT again / with bad auth',
        text: pick(r, [
          `40${JSON.stringify({ token })}`,
          `40{"token":${randomJson(r)}}`,
          `40{"token":{"__proto__":{"admin":true}}}`,
          `40[1,2]`,
          `40"token"`,
          `40{broken`,
        ]),
        fatal: 'maybe',
      };
    case 12:
      return {
        kind: 'ACK nobody asked for',
        text: pick(r, [
          `43${int(r, 0, 1e6)}[${randomJson(r)}]`,
          `431[]`,
          `4399999999999999999999[1]`,
          `43[]`,
        ]),
        fatal: false,
      };
    case 13:
      return {
        kind: 'broken Socket.IO packet',
        text: pick(r, [
          '4',
          '47',
          '4x',
          '4-',
          '48[]',
          `42${randomJson(r).slice(0, 5)}`,
          '42[',
          '42{"a":1}',
          '42"x"',
          '42[]',
          '42null',
          '42["disconnect"]',
          '42["connect"]',
          '42["newListener","x"]',
          `42${'9'.repeat(400)}["x"]`,
        ]),
        fatal: 'maybe',
      };
    case 14:
      return {
        kind: 'binary event with bad attachments',
        text: pick(r, [
          `451-["notification:mark_read",{"_placeholder":true,"num":5}]`,
          `45999999999999-["notification:mark_read",{"_placeholder":true,"num":0}]`,
          `45-1-["x"]`,
          `45a-["x"]`,
          `450-["notification:mark_read",{"_placeholder":true,"num":0}]`,
          `461-[{"_placeholder":true,"num":"0"}]`,
        ]),
        fatal: 'maybe',
      };
    case 15:
      return {
        kind: 'broken Engine.IO packet',
        text: pick(r, [
          '',
          '9',
          'x',
          '7abc',
          '8',
          '5',
          '1',
          '2',
          '2probe',
          'bAAAA',
          'b!!!!',
          '6',
          '3',
          '0{}',
        ]),
        fatal: 'maybe',
      };
    case 16:
      return {
        kind: 'huge numbers',
        text: `42${ackId(r)}["notification:mark_read",{"notificationId":${pick(r, NUMBERS)},"n":[${pick(r, NUMBERS)},${pick(r, NUMBERS)}]}]`,
        fatal: false,
      };
    default:
      return { kind: 'namespace DISCONNECT, then events', text: '41', fatal: 'maybe' };
  }
}

/** One WebSocket-level input: frames to write (any of which may be malformed) and what to expect. */
export interface FrameInput {
  kind: string;
  frames: FrameSpec[];
  fatal: boolean | 'maybe';
  /** The client gives up half-way (a truncated frame): it closes the connection itself afterwards. */
  abandon?: boolean;
}

const text = (value: string | Buffer, parts: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: 1,
  payload: typeof value === 'string' ? Buffer.from(value) : value,
  ...parts,
});

/**
 * One malformed WebSocket frame (or short sequence of frames) carrying an
 * Engine.IO packet: wrong opcodes, RSV bits, missing masks, lying lengths,
 * invalid UTF-8, broken fragmentation, binary garbage.
 */
export function frameInput(r: Random, token: string): FrameInput {
  const packet = textInput(r, token);
  // Six in ten carry a Socket.IO-level input in good frames; the rest break the framing itself.
  if (r() < 0.6)
    return r() < 0.75
      ? { kind: packet.kind, frames: [text(packet.text)], fatal: packet.fatal }
      : fragmented(r, packet);
  switch (int(r, 0, 11)) {
    case 0:
      return {
        kind: 'binary garbage frame',
        frames: [{ opcode: 2, payload: randomBytes(r, int(r, 1, 2_048)) }],
        fatal: 'maybe',
      };
    case 1:
      return {
        kind: 'invalid UTF-8 in a text frame',
        frames: [text(invalidUtf8(r, packet.text.slice(0, 200)))],
        fatal: true,
      };
    case 2:
      return {
        kind: 'reserved opcode',
        frames: [
          {
            opcode: pick(r, [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]),
            payload: Buffer.from(packet.text.slice(0, 100)),
          },
        ],
        fatal: true,
      };
    case 3:
      return {
        kind: 'unmasked client frame',
        frames: [text(packet.text.slice(0, 500), { mask: false })],
        fatal: true,
      };
    case 4:
      return {
        kind: 'RSV bits set',
        frames: [text(packet.text.slice(0, 500), { rsv: int(r, 1, 7) })],
        fatal: true,
      };
    case 5:
      return {
        kind: 'length field far over the limit',
        frames: [text('42["x"]', { declaredLength: BigInt(int(r, 100_000, 2 ** 40)) })],
        fatal: true,
      };
    case 6:
      return {
        kind: 'truncated frame, then the client hangs up',
        frames: [text(packet.text.slice(0, 50), { declaredLength: BigInt(int(r, 60, 60_000)) })],
        fatal: true,
        abandon: true,
      };
    case 7:
      return {
        kind: 'continuation without a start',
        frames: [{ opcode: 0, payload: Buffer.from(packet.text.slice(0, 100)) }],
        fatal: true,
      };
    case 8:
      return {
        kind: 'fragment, then a new message before the end',
        frames: [text('42["notification:mark_read",', { fin: false }), text(packet.text.slice(0, 200))],
        fatal: true,
      };
    case 9:
      return {
        kind: 'control frame over 125 bytes',
        frames: [{ opcode: 9, payload: randomBytes(r, int(r, 126, 1_000)) }],
        fatal: true,
      };
    case 10:
      return {
        kind: 'close frame with an invalid code',
        frames: [{ opcode: 8, payload: Buffer.from([0x03, 0xe7, 0x78]) }],
        fatal: true,
      };
    default:
      return fragmented(r, packet);
  }
}

/** Well-formed fragmentation of a malformed packet: the reassembled text must still be refused. */
function fragmented(r: Random, packet: TextInput): FrameInput {
  const cut = int(r, 1, Math.max(1, packet.text.length - 1));
  return {
    kind: `fragmented: ${packet.kind}`,
    frames: [
      text(packet.text.slice(0, cut), { fin: false }),
      { opcode: 0, payload: Buffer.from(packet.text.slice(cut)) },
    ],
    fatal: packet.fatal,
  };
}

export interface PollingInput {
  kind: string;
  body: string | Buffer;
  contentType: string;
}

const TEXT = 'text/plain;charset=UTF-8';

/** One malformed HTTP long-polling POST body (Engine.IO v4 separates packets with \x1e). */
export function pollingInput(r: Random, token: string): PollingInput & { fatal: boolean | 'maybe' } {
  const packet = textInput(r, token);
  const roll = r();
  if (roll < 0.6) return { kind: packet.kind, body: packet.text, contentType: TEXT, fatal: packet.fatal };
  if (roll < 0.75) {
    const more = textInput(r, token);
    return {
      kind: 'several packets in one body',
      body: [packet.text, more.text, randomJson(r)].join('\x1e'),
      contentType: TEXT,
      fatal: 'maybe',
    };
  }
  if (roll < 0.85) {
    return {
      kind: 'invalid UTF-8 body',
      body: invalidUtf8(r, packet.text.slice(0, 2_000)),
      contentType: TEXT,
      fatal: 'maybe',
    };
  }
  if (roll < 0.9) {
    return {
      kind: 'binary body (application/octet-stream)',
      body: randomBytes(r, int(r, 1, 2_000)),
      contentType: 'application/octet-stream',
      fatal: 'maybe',
    };
  }
  if (roll < 0.95) return { kind: 'empty body', body: '', contentType: TEXT, fatal: 'maybe' };
  return {
    kind: 'base64 binary packet of garbage',
    body: `b${randomBytes(r, int(r, 1, 500)).toString('base64')}`,
    contentType: TEXT,
    fatal: 'maybe',
  };
}

export interface HttpRequestInput {
  kind: string;
  method: string;
  /** Path and query, relative to the node. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One request that is wrong before any session exists: bad query, method, path or headers. */
export function httpRequestInput(r: Random, wsPath: string): HttpRequestInput {
  const base = `${wsPath}?EIO=4&transport=polling`;
  switch (int(r, 0, 9)) {
    case 0:
      return {
        kind: 'bogus sid',
        method: pick(r, ['GET', 'POST']),
        path: `${base}&sid=${pick(r, [randomBytes(r, 15).toString('base64url'), '', '../../', '%00', 'x'.repeat(2_000)])}`,
        body: '42["notification:mark_read",{"notificationId":"n"}]',
      };
    case 1:
      return {
        kind: 'bad EIO version',
        method: 'GET',
        path: `${wsPath}?EIO=${pick(r, ['3', '5', '0', '-1', 'x', '', '4.0', '99999999999999999999'])}&transport=polling`,
      };
    case 2:
      return {
        kind: 'bad transport',
        method: 'GET',
        path: `${wsPath}?EIO=4&transport=${pick(r, ['', 'flashsocket', 'websocket', 'webtransport', 'polling%00', 'x'.repeat(500)])}`,
      };
    case 3:
      return { kind: 'JSONP polling', method: 'GET', path: `${base}&j=${pick(r, ['0', 'alert(1)', '-1'])}` };
    case 4:
      return {
        kind: 'method not allowed',
        method: pick(r, ['PUT', 'DELETE', 'PATCH']),
        path: base,
        body: '40{}',
      };
    case 5:
      return {
        kind: 'preflight from anywhere',
        method: 'OPTIONS',
        path: base,
        headers: {
          origin: pick(r, ['https://evil.example', 'null', 'http://localhost:1', 'x']),
          'access-control-request-method': 'POST',
        },
      };
    case 6:
      return {
        kind: 'strange path',
        method: 'GET',
        path: pick(r, [
          `${wsPath}..%2f..%2fetc%2fpasswd`,
          `${wsPath}%ff%fe?EIO=4&transport=polling`,
          '/healthz/../readyz',
          `/${'a'.repeat(7_000)}`,
          '/%',
          `${wsPath}?EIO=4&transport=polling&${'a=1&'.repeat(1_000)}`,
        ]),
      };
    case 7:
      return {
        kind: 'query parameters repeated or of the wrong type',
        method: 'GET',
        path: `${wsPath}?EIO=4&EIO=3&transport=polling&transport=websocket&sid[]=1&b64=1&t=${'9'.repeat(300)}`,
      };
    case 8:
      return {
        kind: 'POST to open a session',
        method: 'POST',
        path: base,
        body: pick(r, ['40{}', '0', '', '2probe']),
        headers: { 'content-type': pick(r, [TEXT, 'application/json', 'application/octet-stream']) },
      };
    default:
      return {
        kind: 'oversized headers',
        method: 'GET',
        path: base,
        headers: { 'x-filler': 'f'.repeat(int(r, 9_000, 40_000)), cookie: 'io=' + 'c'.repeat(2_000) },
      };
  }
}

/** Raw bytes that are not a valid HTTP request, or barely one, for a plain TCP connection. */
export function rawHttpInput(r: Random, wsPath: string): { kind: string; bytes: Buffer } {
  const base = `${wsPath}?EIO=4&transport=polling`;
  const pickText = (...texts: string[]) => Buffer.from(pick(r, texts), 'latin1');
  switch (int(r, 0, 5)) {
    case 0:
      return { kind: 'TCP garbage', bytes: randomBytes(r, int(r, 1, 4_000)) };
    case 1:
      return {
        kind: 'malformed request line',
        bytes: pickText(
          `GET\r\n\r\n`,
          `GET ${base}\r\n\r\n`,
          `G\x00T / HTTP/1.1\r\n\r\n`,
          `GET / HTTP/9.9\r\nHost: x\r\n\r\n`,
        ),
      };
    case 2:
      return {
        kind: 'bad Content-Length / Transfer-Encoding',
        bytes: pickText(
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n40`,
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n40`,
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n40`,
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n40\r\n`,
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n`,
        ),
      };
    case 3:
      return {
        kind: 'invalid header bytes',
        bytes: Buffer.concat([
          Buffer.from(`GET ${base} HTTP/1.1\r\nHost: x\r\nX-Bad: `),
          Buffer.from(pick(r, INVALID_UTF8).concat([0x00, 0x0d, 0x7f])),
          Buffer.from('\r\n\r\n'),
        ]),
      };
    case 4:
      return {
        kind: 'websocket upgrade with a bad key or version',
        bytes: pickText(
          `GET ${wsPath}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n`,
          `GET ${wsPath}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 7\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          `GET ${wsPath}?EIO=4&transport=websocket&sid=bogus HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          `GET ${wsPath}?EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        ),
      };
    default:
      return {
        kind: 'request that stops half-way',
        bytes: pickText(
          `POST ${base}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n42["`,
          `GET ${base} HTT`,
        ),
      };
  }
}
