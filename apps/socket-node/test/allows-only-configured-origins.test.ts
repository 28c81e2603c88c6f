import { describe, expect, it } from 'vitest';
import { uniquePrefix } from '@herald/testing';
import { startTestNode, useCleanup } from './support.js';

/** The first request of the polling transport, as a browser on `origin` would send it. */
async function handshakeFrom(url: string, origin: string) {
  return fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
}

describe('CORS', () => {
  const defer = useCleanup();

  it('allows exactly the configured origins', async () => {
    const { url } = await startTestNode(uniquePrefix('cors'), defer, {
      corsOrigins: ['http://localhost:5173', 'https://app.example.com'],
    });
    for (const origin of ['http://localhost:5173', 'https://app.example.com']) {
      const res = await handshakeFrom(url, origin);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    }
    for (const origin of [
      'https://evil.example.com',
      'https://app.example.com.evil.net',
      'http://localhost:5174',
    ]) {
      const res = await handshakeFrom(url, origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('allows no cross-origin browser access by default', async () => {
    const { url } = await startTestNode(uniquePrefix('cors'), defer);
    const res = await handshakeFrom(url, 'http://localhost:5173');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses an origin that is not exact at start-up', async () => {
    await expect(startTestNode(uniquePrefix('cors'), defer, { corsOrigins: ['*'] })).rejects.toThrow(
      /corsOrigins/,
    );
  });
});
