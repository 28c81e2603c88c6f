import { describe, expect, it } from 'vitest';
import { EventId, ID_RULE, MAX_ID_LENGTH, RoomName, UserId, idProblem, isId, userRoom } from './ids.js';

describe('the id grammar', () => {
  it('accepts printable ASCII up to the cap, separators included', () => {
    for (const id of [
      'a',
      'colA:b',
      'b:c',
      'a|b/c?d#e%f',
      `!"#$%&'()+,-./:;<=>?@[\\]^_\`|~`,
      'x'.repeat(MAX_ID_LENGTH),
    ]) {
      expect(isId(id), id).toBe(true);
      for (const schema of [UserId, EventId, RoomName]) expect(schema.safeParse(id).success, id).toBe(true);
    }
  });

  it('refuses braces, *, whitespace, control and non-ASCII characters, naming the character and the rule', () => {
    const cases: Array<[string, string]> = [
      ['a{b', "'{' (U+007B) at index 1"],
      ['a}', "'}' (U+007D) at index 1"],
      ['*', "'*' (U+002A) at index 0"],
      ['a b', 'U+0020 at index 1'],
      ['a\tb', 'U+0009 at index 1'],
      ['room\n', 'U+000A at index 4'],
      ['josé', 'U+00E9 at index 3'],
      ['😀', 'U+1F600 at index 0'],
    ];
    for (const [id, where] of cases) {
      expect(isId(id), id).toBe(false);
      for (const schema of [UserId, EventId, RoomName]) {
        const result = schema.safeParse(id);
        expect(result.success, id).toBe(false);
        expect(result.error?.issues[0]?.message).toBe(`contains ${where}; ids are ${ID_RULE}`);
      }
    }
  });

  it('refuses the empty string, one over the cap, and non-strings, each with the rule', () => {
    expect(idProblem('')).toBe(`must not be empty; ids are ${ID_RULE}`);
    expect(idProblem('x'.repeat(MAX_ID_LENGTH + 1))).toBe(`is 129 characters long; ids are ${ID_RULE}`);
    expect(idProblem(42)).toBe(`must be a string of ${ID_RULE}; got a number`);
    expect(idProblem(['a'])).toBe(`must be a string of ${ID_RULE}; got an array`);
    expect(UserId.safeParse(42).error?.issues[0]?.message).toBe(idProblem(42));
  });

  it('builds the user room once: user:{id}', () => {
    expect(userRoom('42')).toBe('user:42');
    expect(isId(userRoom('x'.repeat(MAX_ID_LENGTH - 'user:'.length)))).toBe(true);
  });
});
