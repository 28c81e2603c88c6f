import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from '../src/index.js';

/** Holds a loopback port, as a parallel test or an outgoing connection can. */
async function holdPort(): Promise<{ port: number; release: () => void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { port: address.port, release: () => server.close() };
}

describe('startRedisServer', () => {
  it('waits for a port that was asked for and is taken for a moment', async () => {
    const held = await holdPort();
    setTimeout(held.release, 600);
    const server = await startRedisServer({ port: held.port });
    try {
      expect(server.port).toBe(held.port);
    } finally {
      await server.stop();
    }
  });

  it('says why redis-server would not start, from its own log', async () => {
    await expect(startRedisServer({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
      /exited before answering PING \(code 1\):.*no-such-option/i,
    );
  });
});
