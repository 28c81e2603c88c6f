/** This machine's clock in fractional ms since the epoch, the same in every bench process. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A bench event: a valid `notification:new` payload (the catalog's objects are loose,
 * so the extra fields reach clients unchanged) carrying what the receiver needs:
 * the publish time, the phase it belongs to and its number within the phase.
 */
// A type alias, not an interface: the catalog's loose payload types need an implicit index signature.
export type BenchPayload = {
  notification: { id: string; title: string };
  /** Publish time, `now()` just before the publish call. */
  timestamp: number;
  /** Phase id. */
  k: string;
  /** Event number within the phase, from 0. */
  s: number;
};

export const BENCH_EVENT = 'notification:new';

export function benchPayload(phase: string, seq: number): BenchPayload {
  // The id is in the title too: a fallback email's subject is the title, so it names the event.
  const id = `${phase}-${seq}`;
  return { notification: { id, title: `Bench ${id}` }, timestamp: now(), k: phase, s: seq };
}

/**
 * The email address of a bench user: in the token of its devices (the node remembers it,
 * so an unacked event of a connected user can be emailed) and in the `fallback.email` of
 * events to never-connected users. The SMTP sink tells users apart by it.
 */
export function benchEmail(userId: string): string {
  return `${userId}@bench.example`;
}

/** The user of a `benchEmail` address, or null for any other address. */
export function userOfBenchEmail(address: string): string | null {
  return address.endsWith('@bench.example') ? address.slice(0, -'@bench.example'.length) : null;
}
