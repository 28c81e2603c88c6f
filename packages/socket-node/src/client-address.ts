import { isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * The address a request came from, as the handshake limit counts it.
 *
 * `trustedProxies` is how many reverse proxies stand in front of the node (0: none,
 * clients connect directly). Each proxy appends the address it was contacted from to
 * `X-Forwarded-For`, so the client's address is the one the outermost trusted proxy
 * appended: that many entries from the right, counting the TCP peer as the first.
 * The leftmost entry is not used, because a client can write anything there.
 * With fewer entries than proxies, the leftmost one present is taken.
 *
 * IPv4-mapped IPv6 addresses count as their IPv4 address, and IPv6 addresses by
 * their /64 network, since one subscriber usually holds a whole /64 and could
 * otherwise start every handshake from a fresh address.
 *
 * @example
 * // nginx in front (X-Forwarded-For: "spoofed, 203.0.113.7", peer = nginx):
 * clientAddress(req, 1); // '203.0.113.7'
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedProxies <= 0) return normalizeAddress(peer);
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  // Nearest first: the peer, then X-Forwarded-For from right to left.
  const chain = [peer, ...forwarded.reverse()];
  return normalizeAddress(chain[Math.min(trustedProxies, chain.length - 1)] as string);
}

/** One key per client: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 as its /64. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros (`::` expanded, zone dropped). */
function expandIPv6(address: string): string[] {
  const [withoutZone = ''] = address.split('%');
  const [head = '', tail] = withoutZone.split('::');
  const parse = (part: string) => (part ? part.split(':') : []);
  // A dotted IPv4 tail ("::ffff:1.2.3.4", "64:ff9b::1.2.3.4") fills two groups.
  const width = (parts: string[]) => parts.reduce((sum, part) => sum + (part.includes('.') ? 2 : 1), 0);
  let groups = parse(head);
  if (tail !== undefined) {
    const end = parse(tail);
    groups = [...groups, ...Array<string>(Math.max(0, 8 - width(groups) - width(end))).fill('0'), ...end];
  }
  return groups.map((group) => (group.includes('.') ? group : parseInt(group, 16).toString(16)));
}
