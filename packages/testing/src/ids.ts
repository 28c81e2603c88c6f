/** A fresh hash-tagged key prefix, so tests never see each other's data. */
export function uniquePrefix(label = 't'): string {
  return `{${label}-${crypto.randomUUID().slice(0, 12)}}`;
}

/** A fresh user id. */
export function uniqueUser(label = 'user'): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * `count` fresh user ids that share one partition (pass the deployment's
 * `keys.partitionOf`): for tests whose users must land in one stream entry, as users of
 * different partitions go in entries (and fallback jobs) of their own.
 */
export function uniqueUsersOfOnePartition(
  count: number,
  partitionOf: (id: string) => number,
  label = 'user',
): string[] {
  const first = uniqueUser(label);
  const users = [first];
  while (users.length < count) {
    const next = uniqueUser(label);
    if (partitionOf(next) === partitionOf(first)) users.push(next);
  }
  return users;
}
