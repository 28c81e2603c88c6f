import { describe, expect, it } from 'vitest';
import type { DeliveryMeta } from '@herald/contracts';
import { silentLogger } from '@herald/core';
import { mintToken, uniqueUser, waitFor } from '@herald/testing';
import { startDispatcher } from '../src/index.js';
import { device, published, startStack, useCleanup } from './support.js';

const USERS = 6;
const EVENTS_PER_USER = 150;

describe('order with two dispatcher replicas', () => {
  const defer = useCleanup();

  it('gives the events one producer publishes to a user, one after another, seqs in publish order', async () => {
    const { urls, publisher, redisUrl, prefix } = await startStack(defer, { dispatcher: false });
    // Two replicas with several entries each at once: the entries of one user race between them.
    const replicas = await Promise.all(
      [0, 1].map(() => startDispatcher({ redisUrl, prefix, logger: silentLogger(), concurrency: 4 })),
    );
    for (const replica of replicas) defer(() => replica.close());
    const users = Array.from({ length: USERS }, (_, i) => uniqueUser(`order${i}`));
    const devices = await Promise.all(
      users.map((user, i) => device(urls[i % urls.length] as string, defer, { token: mintToken(user) })),
    );

    // One producer per user, each awaiting every publish; the producers run side by side.
    await Promise.all(
      users.map(async (user) => {
        for (let n = 0; n < EVENTS_PER_USER; n++) {
          await publisher.toUser(user).emit('xp:gained', { amount: n, source: 'order', totalXp: n });
        }
      }),
    );
    for (const d of devices) {
      await waitFor(() => published(d).length === EVENTS_PER_USER, { message: 'every event delivered' });
    }

    let outOfOrderOnWire = 0;
    for (const d of devices) {
      const received = published(d).map((r) => ({
        n: (r.args[0] as { amount: number }).amount,
        seq: (r.args[1] as DeliveryMeta).seq as number,
      }));
      received.forEach((r, i) => {
        if (i > 0 && r.seq < (received[i - 1]?.seq ?? 0)) outOfOrderOnWire += 1;
      });
      // Seq order is publish order: the n-th publish got seq n + 1, whichever replica emitted it.
      const bySeq = [...received].sort((a, b) => a.seq - b.seq);
      expect(bySeq.map((r) => r.seq)).toEqual(Array.from({ length: EVENTS_PER_USER }, (_, i) => i + 1));
      expect(bySeq.map((r) => r.n)).toEqual(Array.from({ length: EVENTS_PER_USER }, (_, i) => i));
    }
    // Both replicas took part, or the test proved nothing about two of them.
    const processed = replicas.map((replica) => replica.delivered);
    expect(processed[0]).toBeGreaterThan(0);
    expect(processed[1]).toBeGreaterThan(0);
    process.stdout.write(
      `[order] ${USERS} users × ${EVENTS_PER_USER} awaited publishes, 2 dispatchers (entries ${processed.join(' + ')}): ` +
        `seq order = publish order for every user; ${outOfOrderOnWire} arrivals out of seq order on the wire (the SDK reorders those)\n`,
    );
  });
});
