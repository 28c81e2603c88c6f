import { ID_RULE, isId } from '@herald/contracts';
import type { Cursor } from './sequencer.js';

/** The part of the Web Storage API the client uses (`localStorage` and `sessionStorage` fit). */
export interface CursorStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The default key the cursor is stored under. */
export const DEFAULT_STORAGE_KEY = 'herald:cursor';

/**
 * Reads a stored cursor. Returns undefined when there is none, and throws a
 * `TypeError` naming what was wrong when the stored value is not a cursor
 * (the caller reports it and starts without one).
 */
export function readCursor(storage: CursorStorage, key: string): Cursor | undefined {
  const raw = storage.getItem(key);
  if (raw === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new TypeError(`The cursor stored under "${key}" is not JSON; starting without one.`, {
      cause: error,
    });
  }
  if (
    typeof value === 'object' &&
    value !== null &&
    'userId' in value &&
    'lastSeq' in value &&
    // The server refuses a handshake whose cursor names a user outside the id grammar:
    // such a stored cursor would keep this device from connecting at all.
    isId(value.userId) &&
    Number.isSafeInteger(value.lastSeq) &&
    (value.lastSeq as number) >= 0
  ) {
    return { userId: value.userId, lastSeq: value.lastSeq as number };
  }
  throw new TypeError(
    `The cursor stored under "${key}" is not { userId: ${ID_RULE}, lastSeq: integer >= 0 }; starting without one.`,
  );
}

/** Writes the cursor as `{ userId, lastSeq }` JSON. */
export function writeCursor(storage: CursorStorage, key: string, cursor: Cursor): void {
  storage.setItem(key, JSON.stringify({ userId: cursor.userId, lastSeq: cursor.lastSeq }));
}
