/** A fresh hash-tagged key prefix, so tests never see each other's data. */
export function uniquePrefix(label = 't'): string {
  return `{${label}-${crypto.randomUUID().slice(0, 12)}}`;
}

/** A fresh user id. */
export function uniqueUser(label = 'user'): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}
