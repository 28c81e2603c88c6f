import { describe, expect, it } from 'vitest';
import { connectError, mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { device, startTestNode, useCleanup } from './support.js';
import { websocketHandshake } from './raw-http.js';

/** The first request of the polling transport, as a browser on `origin` would send it. */
async function handshakeFrom(url: string, origin: string) {
  return fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
}

/** A websocket handshake from a page on `origin` (none: a non-browser client): its status and body. */
async function websocketFrom(url: string, origin: string | undefined) {
  const { status, body } = await websocketHandshake(url, origin === undefined ? {} : { origin });
  return { status, body };
}

describe('CORS', () => {
  const defer = useCleanup();
  const allowed = ['http://localhost:5173', 'https://app.example.com'];
  const disallowed = [
    'https://evil.example.com',
    'https://app.example.com.evil.net',
    'http://localhost:5174',
  ];

  it('allows exactly the configured origins', async () => {
    const { url } = await startTestNode(uniquePrefix('cors'), defer, { corsOrigins: allowed });
    for (const origin of allowed) {
      const res = await handshakeFrom(url, origin);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    }
    for (const origin of disallowed) {
      const res = await handshakeFrom(url, origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      // Refused outright, not only hidden from the page: no session was created.
      expect(res.status, origin).toBe(403);
      expect(await res.json()).toEqual({ code: 4, message: 'origin_not_allowed' });
    }
  });

  it('refuses a websocket handshake from a disallowed origin, and accepts allowed, same-origin and non-browser ones', async () => {
    const { url, node } = await startTestNode(uniquePrefix('cors'), defer, { corsOrigins: allowed });
    for (const origin of disallowed) {
      expect(await websocketFrom(url, origin), origin).toEqual({ status: 400, body: 'origin_not_allowed' });
    }
    for (const origin of [...allowed, `http://127.0.0.1:${node.port}`, undefined]) {
      expect((await websocketFrom(url, origin)).status, origin).toBe(101);
    }

    // The same through socket.io-client (websocket only, as a browser page on that origin).
    const token = mintToken(uniqueUser());
    expect(await connectError(url, { token, extraHeaders: { origin: 'https://evil.example.com' } })).toBe(
      'websocket error',
    );
    const d = await device(url, defer, { token, extraHeaders: { origin: 'https://app.example.com' } });
    expect(d.socket.connected).toBe(true);
  });

  it('allows no cross-origin browser access by default, but same-origin pages and non-browser clients', async () => {
    const { url, node } = await startTestNode(uniquePrefix('cors'), defer);
    const res = await handshakeFrom(url, 'http://localhost:5173');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.status).toBe(403);
    expect((await handshakeFrom(url, `http://127.0.0.1:${node.port}`)).status).toBe(200);
    expect((await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).status).toBe(200);
    expect((await websocketFrom(url, 'http://localhost:5173')).status).toBe(400);
  });

  it('with "*" allows any origin, without credentials', async () => {
    const { url } = await startTestNode(uniquePrefix('cors'), defer, { corsOrigins: ['*'] });
    const res = await handshakeFrom(url, 'https://anywhere.example.net');
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect((await websocketFrom(url, 'https://anywhere.example.net')).status).toBe(101);
  });

  it('refuses at start-up an origin that is not exact, and "*" among others', async () => {
    for (const corsOrigins of [
      ['https://app.example.com/'],
      ['https://*.example.com'],
      ['*', 'https://app.example.com'],
    ]) {
      await expect(startTestNode(uniquePrefix('cors'), defer, { corsOrigins })).rejects.toThrow(
        /corsOrigins/,
      );
    }
  });
});
