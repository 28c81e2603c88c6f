import { describe, expect, it } from 'vitest';
import { connectDevice, mintToken, sleep, uniqueUser, waitFor } from '@herald/testing';
import { fallbackJobId } from '@herald/dispatcher';
import { notification, startFallbackStack, useCleanup, type FallbackStack } from './support.js';

const ACK_TIMEOUT_MS = 1_500;
// Heartbeats every 400 ms: a live node refreshes its entries several times before the check.
const PRESENCE_TTL_MS = 1_200;
const EXTRA_WAIT_MS = 500;
/** How long the left-over entry of a dead node still looks online. */
const GHOST_TTL_MS = 3_000;

/**
 * What a socket node SIGKILLed moments ago leaves behind: a plain device's presence entry
 * that still looks online (its expiry is ahead) but that nobody will ever refresh.
 */
async function leaveDeadNodesEntry(stack: FallbackStack, userId: string): Promise<void> {
  await stack.redis.zadd(stack.keys.presence(userId), Date.now() + GHOST_TTL_MS, 'dead-node|sock-1|p');
}

async function checkResult(stack: FallbackStack, eventId: string): Promise<unknown> {
  const jobId = fallbackJobId(eventId, 0);
  await waitFor(async () => (await stack.fallbackQueue.getJobState(jobId)) === 'completed', {
    timeoutMs: 15_000,
    message: 'the fallback check ran',
  });
  return (await stack.fallbackQueue.getJob(jobId))?.returnvalue;
}

describe('plain devices and dead nodes at the fallback check', () => {
  const defer = useCleanup();

  it('emails a user whose only "online" device is a dead node’s left-over, once that entry expired', async () => {
    const stack = await startFallbackStack(defer, {
      ackTimeoutMs: ACK_TIMEOUT_MS,
      presenceTtlMs: PRESENCE_TTL_MS,
    });
    const user = uniqueUser('ghost');
    const to = `${user}@example.com`;
    await leaveDeadNodesEntry(stack, user);
    const id = await stack.publisher.toUser(user).emit('notification:new', notification('Ghost'), {
      fallback: { email: to },
    });
    expect(await checkResult(stack, id)).toMatchObject({ emailed: 1, receivedPlain: 0, deliveredLive: 0 });
    await sleep(EXTRA_WAIT_MS);
    expect(stack.mailsTo(to)).toHaveLength(1);
  });

  it('delivers live to the device that came back on a live node, not to the left-over', async () => {
    const stack = await startFallbackStack(defer, {
      ackTimeoutMs: ACK_TIMEOUT_MS,
      presenceTtlMs: PRESENCE_TTL_MS,
    });
    const user = uniqueUser('moved');
    const to = `${user}@example.com`;
    await leaveDeadNodesEntry(stack, user);
    const id = await stack.publisher.toUser(user).emit('notification:new', notification('Moved'), {
      fallback: { email: to },
    });
    await waitFor(async () => (await stack.fallbackQueue.getJobState(fallbackJobId(id, 0))) === 'delayed', {
      message: 'the check is scheduled',
    });
    // The device reconnects (plain client, no cursor) to a live node after the emit.
    const d = await connectDevice(stack.url, { token: mintToken(user) });
    defer(() => d.close());
    expect(await checkResult(stack, id)).toMatchObject({ emailed: 0, receivedPlain: 0, deliveredLive: 1 });
    await waitFor(() => d.payloads('notification:new').length === 1, {
      message: 'the device got it at the check',
    });
    expect(stack.mailsTo(to)).toHaveLength(0);
  });

  it('counts a plain device connected at the emit, and still connected, as having it: no copy, no email', async () => {
    const stack = await startFallbackStack(defer, {
      ackTimeoutMs: ACK_TIMEOUT_MS,
      presenceTtlMs: PRESENCE_TTL_MS,
    });
    const user = uniqueUser('stayed');
    const to = `${user}@example.com`;
    const d = await connectDevice(stack.url, { token: mintToken(user) });
    defer(() => d.close());
    const id = await stack.publisher.toUser(user).emit('notification:new', notification('Stayed'), {
      fallback: { email: to },
    });
    expect(await checkResult(stack, id)).toMatchObject({ emailed: 0, receivedPlain: 1, deliveredLive: 0 });
    await sleep(EXTRA_WAIT_MS);
    expect(d.payloads('notification:new')).toHaveLength(1);
    expect(stack.mailsTo(to)).toHaveLength(0);
  });

  it('waits for a heartbeat when the check comes before one, instead of emailing a device that had the event', async () => {
    // Heartbeats every second, a check after 300 ms: at the check the entry has not moved yet.
    const stack = await startFallbackStack(defer, { ackTimeoutMs: 300, presenceTtlMs: 3_000 });
    const user = uniqueUser('early');
    const to = `${user}@example.com`;
    const d = await connectDevice(stack.url, { token: mintToken(user) });
    defer(() => d.close());
    const id = await stack.publisher.toUser(user).emit('notification:new', notification('Early'), {
      fallback: { email: to },
    });
    expect(await checkResult(stack, id)).toMatchObject({ emailed: 0, receivedPlain: 1, deliveredLive: 0 });
    await sleep(EXTRA_WAIT_MS);
    expect(d.payloads('notification:new')).toHaveLength(1);
    expect(stack.mailsTo(to)).toHaveLength(0);
  });
});
