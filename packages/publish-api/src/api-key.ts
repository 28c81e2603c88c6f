import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Returns a check for `Authorization: Bearer <key>` headers. Both sides are hashed
 * first, so the comparison is constant-time and leaks neither the key's content
 * nor its length (timingSafeEqual alone needs equal lengths).
 */
export function createApiKeyCheck(apiKey: string): (authorization: string | undefined) => boolean {
  const expected = digest(apiKey);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    // Still hash and compare on a malformed header, so every refusal costs the same.
    return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
  };
}
