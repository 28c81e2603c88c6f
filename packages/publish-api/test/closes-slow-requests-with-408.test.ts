import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openRawHttp } from '@herald/testing';
import { API_KEY, startHarness, type ApiHarness } from './api-harness.js';

const redisUrl = inject('redisUrl');
const HEADERS_TIMEOUT_MS = 600;
const REQUEST_TIMEOUT_MS = 1_200;

/**
 * Regression: a slowloris client (a header line every few seconds) held a connection for
 * about 86 s and got no answer. Node's headersTimeout and requestTimeout are options now,
 * checked often enough to matter: such a client gets 408 and its connection is closed.
 */
describe('a client that sends its request too slowly', () => {
  let h: ApiHarness;
  let trickle: NodeJS.Timeout | undefined;
  beforeEach(async () => {
    h = await startHarness(redisUrl, {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
  });
  afterEach(async () => {
    clearInterval(trickle);
    await h.close();
  });

  it('gets 408 and a closed socket once its headers take longer than headersTimeoutMs', async () => {
    const { socket, text, closed } = await openRawHttp(h.api.port);
    socket.write('POST /v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    trickle = setInterval(() => socket.write(`X-Slow-${n++}: ${'a'.repeat(10)}\r\n`), 100);
    const afterMs = await closed;
    expect(text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(afterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    // Node checks the timeouts every quarter of headersTimeoutMs here.
    expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS * 2 + 1_000);
  });

  it('gets 408 once its body takes longer than requestTimeoutMs', async () => {
    const { socket, text, closed } = await openRawHttp(h.api.port);
    socket.write(
      'POST /v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${API_KEY}\r\nContent-Length: 1000\r\n\r\n{`,
    );
    trickle = setInterval(() => socket.write(' '), 100);
    const afterMs = await closed;
    expect(text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(afterMs).toBeLessThan(REQUEST_TIMEOUT_MS * 2 + 1_000);
  });
});
