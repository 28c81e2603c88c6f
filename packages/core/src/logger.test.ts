import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HeraldError, HeraldErrorCode } from '@herald/contracts';
import { createLogger, scrubSecrets } from './logger.js';

/** A debug-level logger whose lines land in an array. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTEiLCJleHAiOjE5OTk5OTk5OTl9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('createLogger redaction', () => {
  it('blanks secrets under the names that carry them, at the top level and one level down', () => {
    const { lines, logger } = capture();
    logger.child({ component: 'c' }).info(
      {
        token: 'tok-1',
        auth: { token: 'tok-2' },
        headers: { authorization: 'Bearer key-3', cookie: 'sid=cookie-4', 'x-api-key': 'key-5' },
        config: { apiKey: 'key-6', jwtSecret: 'secret-7', password: 'pw-8', smtpUrl: 'smtp://h' },
        env: { JWT_SECRET: 'secret-9', HERALD_API_KEY: 'key-10', REDIS_URL: 'redis://h' },
        handshake: { auth: { token: 'tok-11' }, query: { token: 'tok-12' } },
        kept: 'visible',
      },
      'hello',
    );
    const line = lines.join('');
    for (const secret of ['tok-', 'key-', 'cookie-4', 'secret-', 'pw-8', 'smtp://h', 'redis://h']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line)).toMatchObject({ kept: 'visible', msg: 'hello', token: '[redacted]' });
  });

  it('scrubs credentials from URLs, JWTs and Bearer values anywhere in the line, message included', () => {
    const { lines, logger } = capture();
    logger.warn(
      { target: 'redis://default:r3dis-pass@10.0.0.1:6379/0', deep: { a: { b: { c: `Bearer ${JWT}` } } } },
      `cannot reach smtps://mailer:smtp%20pass@mail.example.com:465 with token ${JWT}`,
    );
    const line = lines.join('');
    expect(line).not.toContain('r3dis-pass');
    expect(line).not.toContain('smtp%20pass');
    expect(line).not.toContain(JWT.split('.')[2]);
    const parsed = JSON.parse(line) as { target: string; msg: string };
    // What is left still says where: scheme, user and host.
    expect(parsed.target).toBe('redis://default:[redacted]@10.0.0.1:6379/0');
    expect(parsed.msg).toBe(
      'cannot reach smtps://mailer:[redacted]@mail.example.com:465 with token [redacted]',
    );
  });

  it('drops the arguments of a failed AUTH that ioredis attaches to its errors, also when it is a cause', () => {
    const { lines, logger } = capture();
    const replyError = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      command: { name: 'auth', args: ['default', 'wrong-pass-13'] },
    });
    const other = Object.assign(new Error('ERR wrong type'), { command: { name: 'get', args: ['k1'] } });
    logger.error({ err: replyError }, 'redis connection error');
    logger.error(
      { err: new HeraldError(HeraldErrorCode.internal, 'wrapped', { cause: replyError }) },
      'wrapped',
    );
    logger.error({ err: other }, 'other command');
    const [first, second, third] = lines.map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    expect(lines.join('')).not.toContain('wrong-pass-13');
    expect(first?.err.command).toEqual({ name: 'auth', args: '[redacted]' });
    expect(first?.err.message).toContain('WRONGPASS');
    // pino folds a cause into the message and stack; its command is not written.
    expect(second?.err.message).toBe('wrapped: WRONGPASS invalid username-password pair');
    // Arguments of ordinary commands help debugging and stay.
    expect(third?.err.command).toEqual({ name: 'get', args: ['k1'] });
    // The caller's error is not changed.
    expect(replyError.command.args).toEqual(['default', 'wrong-pass-13']);
  });
});

describe('scrubSecrets', () => {
  it.each([
    ['redis://:pw@host:6379', 'redis://:[redacted]@host:6379'],
    ['rediss://user:p%40ss@host', 'rediss://user:[redacted]@host'],
    ['smtp://u:p@h:25 and smtp://h:25', 'smtp://u:[redacted]@h:25 and smtp://h:25'],
    ['GET /socket.io/?EIO=4&token=abc.def&x=1', 'GET /socket.io/?EIO=4&token=[redacted]&x=1'],
    ['authorization: Basic dXNlcjpwYXNz', 'authorization: Basic [redacted]'],
    [`{"t":"${JWT}"}`, '{"t":"[redacted]"}'],
  ])('%s → %s', (input, output) => {
    expect(scrubSecrets(input)).toBe(output);
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'listening on http://0.0.0.0:3000/socket.io/',
      'redis://127.0.0.1:6379',
      '{"userId":"u-1","eventId":"e:1@x"}',
      'user@example.com wrote at 10:30',
    ]) {
      expect(scrubSecrets(text)).toBe(text);
    }
  });
});
