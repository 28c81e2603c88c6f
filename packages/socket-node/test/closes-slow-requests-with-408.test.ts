import { describe, expect, it } from 'vitest';
import { openRawHttp, uniquePrefix, useCleanup } from '@herald/testing';
import { startTestNode } from './support.js';

const HEADERS_TIMEOUT_MS = 600;

/**
 * Regression: a slowloris client (a header line every few seconds) held a connection for
 * about 86 s and got no answer, as Node checks its default timeouts only every 30 s. The
 * socket node is what faces the internet (and the local stack serves the publish API on
 * it): a client that takes longer than `headersTimeoutMs` to send a handshake's headers
 * gets 408 and its connection is closed.
 */
describe('a client that sends a handshake too slowly', () => {
  const defer = useCleanup();

  it('gets 408 and a closed socket once its headers take longer than headersTimeoutMs', async () => {
    const { node } = await startTestNode(uniquePrefix('slowloris'), defer, {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    });
    const { socket, text, closed } = await openRawHttp(node.port);
    defer(() => socket.destroy());
    socket.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    const trickle = setInterval(() => socket.write(`X-Slow-${n++}: ${'a'.repeat(10)}\r\n`), 100);
    defer(() => clearInterval(trickle));

    const afterMs = await closed;
    expect(text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(afterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    // Node checks the timeouts every quarter of headersTimeoutMs here.
    expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS * 2 + 1_000);
  });

  it('refuses a headers timeout out of range, naming the option', async () => {
    await expect(startTestNode(uniquePrefix('slowloris'), defer, { headersTimeoutMs: 5 })).rejects.toThrow(
      /startSocketNode: headersTimeoutMs must be an integer from 10 to 600000; got 5/,
    );
  });
});
