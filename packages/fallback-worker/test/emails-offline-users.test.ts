import { describe, expect, it } from 'vitest';
import { USERS_PER_SLICE, type FallbackJobData } from '@herald/contracts';
import { fallbackJobId } from '@herald/dispatcher';
import { createKeys } from '@herald/core';
import { mintToken, sleep, uniqueUser, uniqueUsersOfOnePartition, waitFor } from '@herald/testing';
import { connectDevice } from '@herald/testing';
import { addressHash } from '../src/index.js';
import {
  LEVEL,
  captureLogger,
  notification,
  startFallbackStack,
  useCleanup,
  type LogLine,
} from './support.js';

/** After the first email, how long we keep watching for a second one. */
const EXTRA_WAIT_MS = 1_500;

const email = (label: string) => `${label}-${crypto.randomUUID().slice(0, 6)}@example.com`;

describe('email fallback for offline users', () => {
  const defer = useCleanup();

  it('sends exactly one email, titled like the notification, to the address given with the event', async () => {
    const stack = await startFallbackStack(defer);
    const user = uniqueUser('off');
    const to = email('given');
    const payload = notification('Your report is ready', 'Q3 numbers are in.');
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', payload, { fallback: { email: to } });

    const [mail] = await waitFor(() => (stack.mailsTo(to).length > 0 ? stack.mailsTo(to) : null), {
      message: 'the fallback email arrived',
    });
    expect(mail?.subject).toBe('Your report is ready');
    expect(mail?.from).toBe('herald@test.local');
    expect(mail?.raw).toContain('Q3 numbers are in.');
    expect(mail?.raw).toMatch(new RegExp(`^Message-ID: <${id}\\.${user}@herald>`, 'im'));
    await sleep(EXTRA_WAIT_MS);
    expect(stack.mailsTo(to)).toHaveLength(1);
  });

  it('uses the email claim the user connected with earlier when the event names no address', async () => {
    const stack = await startFallbackStack(defer);
    const user = uniqueUser('seen');
    const to = email('claim');
    const earlier = await connectDevice(stack.url, { token: mintToken(user, { email: to }) });
    earlier.close();
    await waitFor(async () => !(await stack.publisher.isUserConnected(user)), {
      message: 'user went offline',
    });

    await stack.publisher.toUser(user).emit('notification:new', notification('New follower'));
    await waitFor(() => stack.mailsTo(to).length > 0, { message: 'the fallback email arrived' });
    expect(stack.mailsTo(to)[0]?.subject).toBe('New follower');
    await sleep(EXTRA_WAIT_MS);
    expect(stack.mailsTo(to)).toHaveLength(1);
    expect(stack.sink.mails).toHaveLength(1);
  });

  it('delivers to the device instead of emailing when the user connects a device that does not ack before the check', async () => {
    const stack = await startFallbackStack(defer, { ackTimeoutMs: 1_500 });
    const user = uniqueUser('late');
    const to = email('late');
    const payload = notification('Someone replied');
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', payload, { fallback: { email: to } });
    // Connect only once the dispatcher has found the user offline and scheduled the check.
    const jobId = fallbackJobId(id, 0);
    await waitFor(async () => (await stack.fallbackQueue.getJobState(jobId)) === 'delayed', {
      message: 'fallback check scheduled',
    });
    const d = await connectDevice(stack.url, { token: mintToken(user) });
    defer(() => d.close());
    expect(d.payloads('notification:new')).toEqual([]);

    await waitFor(() => d.payloads('notification:new').length === 1, {
      timeoutMs: 10_000,
      message: 'the device got the event when the check ran',
    });
    const received = d.received.find((r) => r.event === 'notification:new');
    expect(received?.args[0]).toEqual(payload);
    expect(received?.args[1]).toMatchObject({ id });
    await waitFor(async () => (await stack.fallbackQueue.getJobState(jobId)) === 'completed');
    expect((await stack.fallbackQueue.getJob(jobId))?.returnvalue).toEqual({
      emailed: 0,
      acked: 0,
      receivedPlain: 0,
      deliveredLive: 1,
      alreadySent: 0,
    });
    await sleep(EXTRA_WAIT_MS);
    expect(stack.sink.mails).toEqual([]);
  });

  it('still sends exactly one email when the SMTP server refuses the first attempt', async () => {
    const stack = await startFallbackStack(defer);
    stack.sink.refuseNext(1);
    const user = uniqueUser('flaky');
    const to = email('flaky');
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', notification('Retry me'), { fallback: { email: to } });

    await waitFor(() => stack.mailsTo(to).length > 0, {
      timeoutMs: 15_000,
      message: 'the email arrived after a retry',
    });
    expect(stack.sink.refused).toBe(1);
    expect(stack.mailsTo(to)[0]?.subject).toBe('Retry me');
    const job = await stack.fallbackQueue.getJob(fallbackJobId(id, 0));
    await waitFor(async () => (await job?.getState()) === 'completed');
    await sleep(EXTRA_WAIT_MS);
    expect(stack.mailsTo(to)).toHaveLength(1);
  });

  it('emails each of three offline users exactly once when the SMTP server refuses one of their emails once', async () => {
    const stack = await startFallbackStack(defer);
    // One partition: one stream entry, so one fallback job with the three of them.
    const users = uniqueUsersOfOnePartition(3, createKeys(stack.prefix).partitionOf, 'trio');
    const addresses = users.map(() => email('trio'));
    // Each user connected earlier with their own email claim, so each has their own address.
    await Promise.all(
      users.map(async (user, i) => {
        const earlier = await connectDevice(stack.url, { token: mintToken(user, { email: addresses[i] }) });
        earlier.close();
        await waitFor(async () => !(await stack.publisher.isUserConnected(user)), {
          message: 'user went offline',
        });
      }),
    );
    stack.sink.refuseNext(1);
    const id = await stack.publisher.toUsers(users).emit('notification:new', notification('For all three'));

    await waitFor(() => addresses.every((to) => stack.mailsTo(to).length > 0), {
      timeoutMs: 15_000,
      message: 'every email arrived, one after a retry',
    });
    expect(stack.sink.refused).toBe(1);
    const job = await stack.fallbackQueue.getJob(fallbackJobId(id, 0));
    await waitFor(async () => (await job?.getState()) === 'completed');
    await sleep(EXTRA_WAIT_MS);
    users.forEach((user, i) => {
      const mails = stack.mailsTo(addresses[i] as string);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.raw).toMatch(new RegExp(`^Message-ID: <${id}\\.${user}@herald>`, 'im'));
    });
    expect(stack.sink.mails).toHaveLength(3);
  });

  it('never sends a second email for the same event and user, even from a second job', async () => {
    const stack = await startFallbackStack(defer);
    const user = uniqueUser('twice');
    const to = email('twice');
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', notification('Only once'), { fallback: { email: to } });
    await waitFor(() => stack.mailsTo(to).length === 1, { message: 'the first email arrived' });

    // Same (event, user) under another job id, as a crash-and-retry of the dispatcher could produce.
    const original = await stack.fallbackQueue.getJob(fallbackJobId(id, 0));
    const again = await stack.fallbackQueue.add('notification:new', original!.data, { jobId: `again-${id}` });
    await waitFor(async () => (await again.getState()) === 'completed', { message: 'the second job ran' });
    expect((await stack.fallbackQueue.getJob(again.id!))?.returnvalue).toEqual({
      emailed: 0,
      acked: 0,
      receivedPlain: 0,
      deliveredLive: 0,
      alreadySent: 1,
    });
    expect(stack.mailsTo(to)).toHaveLength(1);
  });

  it('fails the job and counts it as undeliverable when the user has no known address', async () => {
    const stack = await startFallbackStack(defer);
    const user = uniqueUser('nobody');
    const id = await stack.publisher.toUser(user).emit('notification:new', notification('Nowhere to go'));
    const jobId = fallbackJobId(id, 0);

    await waitFor(async () => (await stack.fallbackQueue.getJobState(jobId)) === 'failed', {
      message: 'the fallback job failed',
    });
    const job = await stack.fallbackQueue.getJob(jobId);
    expect(job?.failedReason).toMatch(/^no_address/);
    expect(job?.failedReason).toContain(user);
    // Unrecoverable: one attempt, not eight.
    expect(job?.attemptsMade).toBe(1);
    expect(await stack.redis.get(stack.keys.undeliverable)).toBe('1');
    expect(stack.sink.mails).toEqual([]);
  });

  it('sends no email for an event published with fallback: false', async () => {
    const stack = await startFallbackStack(defer);
    const quiet = uniqueUser('quiet');
    const quietAddress = email('quiet');
    // The user is known (connected before with an email claim), so only the option stops the email.
    const earlier = await connectDevice(stack.url, { token: mintToken(quiet, { email: quietAddress }) });
    earlier.close();
    await waitFor(async () => !(await stack.publisher.isUserConnected(quiet)), {
      message: 'user went offline',
    });
    const quietId = await stack.publisher
      .toUser(quiet)
      .emit('notification:new', notification('Shh'), { fallback: false });

    // A sentinel published after it, which does email: once it arrived, the quiet one had every chance to.
    const sentinel = email('sentinel');
    await stack.publisher
      .toUser(uniqueUser('s'))
      .emit('notification:new', notification('Sentinel'), { fallback: { email: sentinel } });
    await waitFor(() => stack.mailsTo(sentinel).length === 1, { message: 'the sentinel email arrived' });
    await sleep(500);
    expect(stack.mailsTo(quietAddress)).toEqual([]);
    expect(await stack.fallbackQueue.getJob(fallbackJobId(quietId, 0))).toBeUndefined();
  });

  it('logs one line with counts, not one error line per user, for a job of 2,000 users without an address', async () => {
    // The reported bug: one publish to 100,000 never-connected users without addresses
    // wrote 100,232 error lines (33 MB), one per user.
    const { logger, lines } = captureLogger('info');
    const stack = await startFallbackStack(defer, { workerLogger: logger });
    const checks = Array.from({ length: 4 }, (_, i) => {
      const userIds = Array.from({ length: USERS_PER_SLICE }, () => uniqueUser(`nowhere${i}`));
      return {
        eventId: `evt-${crypto.randomUUID()}`,
        userIds,
        seqs: userIds.map(() => 1),
        event: 'notification:new',
        payload: notification('Nowhere to go'),
        fallback: { channel: 'email' as const },
        publishedAt: Date.now(),
      };
    });
    const job = await stack.fallbackQueue.add('notification:new', { checks } satisfies FallbackJobData);

    await waitFor(async () => (await job.getState()) === 'failed', {
      timeoutMs: 20_000,
      message: 'the fallback job failed for good',
    });
    await waitFor(() => lines.some((l) => l.msg.startsWith('fallback job failed')), {
      message: 'the worker logged the failure',
    });
    expect(await stack.redis.get(stack.keys.undeliverable)).toBe('2000');
    expect((await stack.fallbackQueue.getJob(job.id as string))?.failedReason).toMatch(
      /^4 of 4 checks failed for good; first: no_address: /,
    );
    const undeliverable = lines.filter((l) => l.msg.startsWith('fallback undeliverable'));
    expect(undeliverable).toHaveLength(1);
    expect(undeliverable[0]).toMatchObject({ level: LEVEL.error, jobId: job.id, users: 2_000, events: 4 });
    expect(undeliverable[0]?.userIds).toHaveLength(20);
    // The job's lines above info: that summary and the failed job, each a few KB at most.
    const loud = lines.filter((l) => l.level >= LEVEL.warn);
    expect(loud.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^fallback undeliverable for 2000 users/),
      'fallback job failed for good; it stays in the failed set',
    ]);
    expect(Math.max(...loud.map((l) => l.text.length))).toBeLessThan(8_000);
  });

  it('logs a sent email by user id and address hash at info, the address only at debug', async () => {
    const { logger, lines } = captureLogger('debug');
    const stack = await startFallbackStack(defer, { workerLogger: logger });
    const user = uniqueUser('private');
    const to = email('private');
    await stack.publisher
      .toUser(user)
      .emit('notification:new', notification('Private'), { fallback: { email: to } });
    await waitFor(() => stack.mailsTo(to).length === 1, { message: 'the fallback email arrived' });
    await waitFor(() => lines.some((l) => l.msg === 'fallback email sent'), {
      message: 'the worker logged the send',
    });

    expect(withAddress(lines, to).filter((l) => l.level >= LEVEL.info)).toEqual([]);
    const sent = lines.find((l) => l.msg === 'fallback email sent') as LogLine;
    expect(sent).toMatchObject({ level: LEVEL.info, userId: user, toHash: addressHash(to) });
    // At debug the address is there, for whoever turned debug on to follow one email.
    expect(withAddress(lines, to).some((l) => l.level === LEVEL.debug)).toBe(true);
  });

  it('keeps the address out of warn and error lines when the SMTP server refuses it by name', async () => {
    const { logger, lines } = captureLogger('info');
    const stack = await startFallbackStack(defer, { workerLogger: logger });
    const user = uniqueUser('refused');
    const to = email('refused');
    stack.sink.refuseRecipient(to);
    const id = await stack.publisher
      .toUser(user)
      .emit('notification:new', notification('Unknown mailbox'), { fallback: { email: to } });
    const jobId = fallbackJobId(id, 0);

    // The relay's 550 names the address; nodemailer repeats it in `rejected` and `rejectedErrors`.
    await waitFor(async () => ((await stack.fallbackQueue.getJob(jobId))?.attemptsMade ?? 0) >= 2, {
      timeoutMs: 15_000,
      message: 'the refused email was tried twice',
    });
    expect(withAddress(lines, to)).toEqual([]);
    const failures = lines.filter((l) => l.msg.startsWith('fallback email failed'));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0]).toMatchObject({ level: LEVEL.warn, users: 1, codes: { EENVELOPE: 1 } });
    // The relay's answer is kept, with the address's hash where the address was.
    expect(failures[0]?.text).toContain(addressHash(to));
    const job = await stack.fallbackQueue.getJob(jobId);
    expect(job?.failedReason).toContain('Recipient address rejected');
    expect(job?.failedReason.toLowerCase()).not.toContain(to.toLowerCase());
    expect(stack.sink.mails).toEqual([]);
  });
});

/** The lines that hold `address`, in any case. */
function withAddress(lines: readonly LogLine[], address: string): LogLine[] {
  return lines.filter((l) => l.text.toLowerCase().includes(address.toLowerCase()));
}
