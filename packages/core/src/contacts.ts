import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './keys.js';

/** How long a remembered address is kept after the user's last connection. */
export const EMAIL_TTL_S = 30 * 24 * 3600;

/**
 * Remembers the `email` claim a user last connected with, so the fallback worker
 * can reach users whose producers did not give an address.
 */
export async function rememberEmail(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  email: string,
): Promise<void> {
  await redis.set(keys.email(userId), email, 'EX', EMAIL_TTL_S);
}

export async function lookupEmail(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
): Promise<string | null> {
  return redis.get(keys.email(userId));
}
