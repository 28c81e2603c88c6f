import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { mintToken, uniquePrefix, uniqueUser } from '@herald/testing';
import { device, startTestNode, useCleanup, useRedis } from './support.js';

/** The grammar as SECURITY.md states it; every refusal's message carries it. */
const RULE = "1-128 printable ASCII characters, no spaces, '{', '}' or '*'";

describe('ids outside the grammar, at the handshake and in client events', () => {
  const defer = useCleanup();

  /** Connects with `auth` and resolves with the connect_error: the code, and the text for people. */
  async function refusedWith(
    url: string,
    auth: Record<string, unknown>,
  ): Promise<{ code: string; text: string }> {
    const socket = io(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
    defer(() => socket.disconnect());
    const error = await new Promise<Error & { data?: { message?: string } }>((resolve, reject) => {
      socket.once('connect_error', resolve);
      socket.once('authenticated', () => reject(new Error(`accepted: ${JSON.stringify(auth)}`)));
    });
    return { code: error.message, text: error.data?.message ?? '' };
  }

  it('refuses a sub with { } * whitespace or non-ASCII, or that is a number, naming sub and the rule', async () => {
    const prefix = uniquePrefix('ids');
    const { url, node } = await startTestNode(prefix, defer);
    const { presence } = useRedis(prefix, defer);
    const cases: Array<[unknown, string]> = [
      ['a{b', "contains '{' (U+007B) at index 1"],
      ['a}b', "contains '}' (U+007D) at index 1"],
      ['user*', "contains '*' (U+002A) at index 4"],
      ['Łukasz', 'contains U+0141 at index 0'],
      ['two words', 'contains U+0020 at index 3'],
      [42, 'must be a string of'],
    ];
    for (const [sub, problem] of cases) {
      const token = mintToken('ignored', { extra: { sub } });
      const refused = await refusedWith(url, { token });
      expect(refused.code, String(sub)).toBe('invalid_token');
      expect(refused.text, String(sub)).toContain(`names no valid user id: sub: ${problem}`);
      expect(refused.text, String(sub)).toContain(RULE);
      if (typeof sub === 'string') expect(await presence.isOnline(sub)).toBe(false);
    }
    expect(await presence.isOnline('42')).toBe(false);
    expect(node.io.of('/').sockets.size).toBe(0);
  });

  it('refuses a rooms claim that is not an array, or names a room outside the grammar, naming rooms and the rule', async () => {
    const { url, node } = await startTestNode(uniquePrefix('ids'), defer);
    const cases: Array<[unknown, string]> = [
      ['x', 'rooms: must be an array of room names, e.g. ["team-1"]; got a string'],
      [{ team: 1 }, 'rooms: must be an array of room names, e.g. ["team-1"]; got an object'],
      [['team-1', 'bad\nname'], `rooms[1]: contains U+000A at index 3; ids are ${RULE}`],
      [['{herald}'], `rooms[0]: contains '{' (U+007B) at index 0; ids are ${RULE}`],
      [['all*'], `rooms[0]: contains '*' (U+002A) at index 3; ids are ${RULE}`],
      [['team-1', 'team}'], `rooms[1]: contains '}' (U+007D) at index 4; ids are ${RULE}`],
      [['café'], `rooms[0]: contains U+00E9 at index 3; ids are ${RULE}`],
      [['two words'], `rooms[0]: contains U+0020 at index 3; ids are ${RULE}`],
    ];
    for (const [rooms, message] of cases) {
      const token = mintToken(uniqueUser(), { extra: { rooms } });
      const refused = await refusedWith(url, { token });
      expect(refused.code, JSON.stringify(rooms)).toBe('invalid_token');
      expect(refused.text, JSON.stringify(rooms)).toContain(message);
      expect(refused.text).not.toContain('names no valid user id');
    }
    expect(node.io.of('/').sockets.size).toBe(0);
  });

  it('refuses a replay cursor naming a user outside the grammar, and a mark_read whose notificationId is outside it', async () => {
    const { url } = await startTestNode(uniquePrefix('ids'), defer);
    const user = uniqueUser();
    const cursor = await refusedWith(url, { token: mintToken(user), lastSeq: 0, lastSeqUserId: 'a{b}' });
    expect(cursor.text).toContain(`auth.lastSeqUserId: contains '{' (U+007B) at index 1; ids are ${RULE}`);

    const d = await device(url, defer, { token: mintToken(user) });
    const ack = await d.socket
      .timeout(5_000)
      .emitWithAck('notification:mark_read', { notificationId: 'n*1' });
    expect(ack).toEqual({
      accepted: false,
      code: 'invalid_payload',
      message: `Invalid notification:mark_read payload: payload.notificationId: contains '*' (U+002A) at index 1; ids are ${RULE}`,
    });
  });

  it('accepts a sub, rooms and a notificationId full of separators, and joins user:{sub}', async () => {
    const { url, node } = await startTestNode(uniquePrefix('ids'), defer);
    const user = `b:c|${uniqueUser()}/x?y#z%`;
    const d = await device(url, defer, { token: mintToken(user, { rooms: ['team:a|b', 'x/y?z'] }) });
    expect(d.payloads('authenticated')).toEqual([{ success: true, userId: user, email: null, seq: 0 }]);
    const rooms = node.io.of('/').sockets.get(d.socket.id!)?.rooms;
    expect([...(rooms ?? [])].filter((r) => r !== d.socket.id).sort()).toEqual(
      [`user:${user}`, 'team:a|b', 'x/y?z'].sort(),
    );
    expect(
      await d.socket.timeout(5_000).emitWithAck('notification:mark_read', { notificationId: 'n:1|"<2>"' }),
    ).toEqual({ accepted: true });
  });
});
