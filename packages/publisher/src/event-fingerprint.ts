import { createHash } from 'node:crypto';
import type { PreparedEvent } from '@herald/contracts';

/** 12 base64url characters (72 bits) of SHA-256: short in Redis, and a collision is not a practical worry. */
const shortHash = (text: string) =>
  createHash('sha256').update(text, 'utf8').digest('base64url').slice(0, 12);

/**
 * What an event id stands for: short hashes of the event name, the whole target (all
 * users of a `toUsers`, whichever part carries it), the payload's JSON after validation
 * and the resolved fallback policy (a retry that asks for another address, or none, must
 * not be told it was published as asked), `.`-separated in the order the sequencing script
 * names them (`FingerprintPart` in `@herald/core`). Stored in each (event id, part) record,
 * so a later publish of the same id can be told apart from a retry of the same event
 * (deduped) and refused with the parts that differ.
 *
 * The payload is compared as the JSON the schema's output serializes to: keys the schema
 * declares come out in its order, but the keys of a free-form object (a record) in the
 * order they were sent.
 */
export function eventFingerprint(event: PreparedEvent): string {
  const payloadJson = event.payloadJson ?? JSON.stringify(event.payload) ?? 'null';
  return [event.event, JSON.stringify(event.target), payloadJson, JSON.stringify(event.fallback)]
    .map(shortHash)
    .join('.');
}
