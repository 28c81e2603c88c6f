import { z } from 'zod';

/**
 * The longest id Herald accepts, in characters (= bytes: ids are ASCII). One cap for
 * user ids, event ids and room names, so every id fits every place it is written to.
 */
export const MAX_ID_LENGTH = 128;

/**
 * The one grammar of user ids, event ids and room names, as people read it. Ids end up
 * in Redis keys, Socket.IO room names, email headers, URLs and log lines: printable ASCII
 * keeps them readable and header-safe there; `{` and `}` would start a Redis Cluster hash
 * tag of their own (and move a key out of its prefix's slot when the prefix has none);
 * `*` is a glob in Redis patterns.
 */
export const ID_RULE = `1-${MAX_ID_LENGTH} printable ASCII characters, no spaces, '{', '}' or '*'`;

/** Printable ASCII is 0x21-0x7E; 0x2A is `*`, 0x7B `{`, 0x7D `}`. */
const ID_CHARS = '\\x21-\\x29\\x2B-\\x7A\\x7C\\x7E';
const ID_PATTERN = new RegExp(`^[${ID_CHARS}]+$`);
const ID_CHAR = new RegExp(`^[${ID_CHARS}]$`);

/** `'{' (U+007B)` for a visible character, `U+000A` for one that is not. */
function describeChar(char: string): string {
  const code = `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\x21-\x7E]$/.test(char) ? `'${char}' (${code})` : code;
}

/**
 * Why `value` is not an id, in words that name the rule (and the first character that
 * breaks it), or `undefined` when it is one.
 *
 * @example
 * idProblem('a{b') // "contains '{' (U+007B) at index 1; ids are 1-128 printable ASCII characters, ..."
 */
export function idProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    if (value === undefined) return `is required: ${ID_RULE}`;
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return `must be a string of ${ID_RULE}; got ${got.replace(/^a (?=[aeiou])/, 'an ')}`;
  }
  if (value.length <= MAX_ID_LENGTH && ID_PATTERN.test(value)) return undefined;
  if (value.length === 0) return `must not be empty; ids are ${ID_RULE}`;
  if (value.length > MAX_ID_LENGTH) {
    return `is ${value.length} characters long; ids are ${ID_RULE}`;
  }
  // Iterating by code point, so a non-ASCII letter is named whole, not as half a surrogate pair.
  let index = 0;
  for (const char of value) {
    if (!ID_CHAR.test(char)) return `contains ${describeChar(char)} at index ${index}; ids are ${ID_RULE}`;
    index += char.length;
  }
  return `ids are ${ID_RULE}`;
}

/** True when `value` follows the id grammar (`ID_RULE`). */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH && ID_PATTERN.test(value);
}

/**
 * A zod string following the id grammar, whose issues say which rule failed. The issue
 * does not abort (`continue`), like zod's own string checks, so a union such as
 * `PublishTarget` still reports it from the one branch whose shape matched.
 */
function idSchema() {
  return z.string({ error: (issue) => idProblem(issue.input) }).check((ctx) => {
    if (isId(ctx.value)) return;
    ctx.issues.push({
      code: 'custom',
      message: idProblem(ctx.value) ?? ID_RULE,
      input: ctx.value,
      continue: true,
    });
  });
}

/** A user id, as tokens (`sub`) and producers name users. Grammar: `ID_RULE`. */
export const UserId = idSchema();

/** An event id, chosen by producers for idempotency or made by Herald (a UUID). Grammar: `ID_RULE`. */
export const EventId = idSchema();

/** A Socket.IO room name, from producers, token claims and `authorizeRooms`. Grammar: `ID_RULE`. */
export const RoomName = idSchema();

/** A notification id, as a device names it in `notification:mark_read`. Grammar: `ID_RULE`. */
export const NotificationId = idSchema();

/** The start of every user room: a token's `rooms` claim may name no such room but its user's own. */
export const USER_ROOM_PREFIX = 'user:';

/** The room every device of a user joins and user-targeted events are emitted into. */
export function userRoom(userId: string): string {
  return `${USER_ROOM_PREFIX}${userId}`;
}
