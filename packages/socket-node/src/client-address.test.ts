import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, normalizeAddress } from './client-address.js';

function request(peer: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it('uses the TCP peer and ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(clientAddress(request('198.51.100.1', '203.0.113.9'), 0)).toBe('198.51.100.1');
  });

  it('takes the address the trusted proxy appended, not what the client wrote on the left', () => {
    const req = request('10.0.0.2', 'spoofed-1, 203.0.113.7');
    expect(clientAddress(req, 1)).toBe('203.0.113.7');
    expect(clientAddress(request('10.0.0.3', '203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
    // Fewer entries than proxies: the leftmost one present.
    expect(clientAddress(request('10.0.0.2', '203.0.113.7'), 3)).toBe('203.0.113.7');
    // No header at all: the peer.
    expect(clientAddress(request('10.0.0.2'), 1)).toBe('10.0.0.2');
  });
});

describe('normalizeAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::a:b:c:d:1.2.3.4', '0:0:a:b::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-address', 'not-an-address'],
  ])('%s → %s', (address, key) => {
    expect(normalizeAddress(address)).toBe(key);
  });
});
