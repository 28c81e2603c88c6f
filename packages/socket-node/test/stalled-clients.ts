import { openRawWebSocket } from './raw-websocket.js';

/**
 * A device that authenticates, reads normally, then stops reading while the server keeps
 * sending, over one transport. Used to see what a node holds for a client that does not
 * keep up.
 */
export interface StallingClient {
  /** Engine.IO packets read so far (`42[…]` Socket.IO events among them). */
  messages: string[];
  /** Stops reading: the kernel's buffers fill, then the server's writes back up. */
  stall(): Promise<void>;
  /** Reads again, until the server has ended the connection; resolves then. */
  drainUntilClosed(): Promise<void>;
  close(): void;
}

const RECORD_SEPARATOR = '\x1e';

/** A raw websocket client (see raw-websocket.ts); stalling pauses its net.Socket. */
export async function stallingWebSocket(port: number, token: string): Promise<StallingClient> {
  const raw = await openRawWebSocket(port, '/socket.io/?EIO=4&transport=websocket');
  await raw.waitForMessage((m) => m.startsWith('0{'));
  raw.sendText(`40${JSON.stringify({ token })}`);
  await raw.waitForMessage((m) => m.startsWith('42["authenticated"'));
  return {
    messages: raw.messages,
    stall: () => Promise.resolve(raw.pause()),
    async drainUntilClosed() {
      raw.resume();
      await raw.ended;
    },
    close: () => raw.destroy(),
  };
}

/**
 * A raw HTTP long-polling client: GET after GET while it reads (answering pings). To
 * stall, it sends no GET after the one in flight, as a client whose tab froze would: the
 * node has nowhere to write and queues. `drainUntilClosed` resolves once the node has
 * ended the session (a GET with its sid is refused).
 */
export async function stallingPolling(port: number, token: string): Promise<StallingClient> {
  const base = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(base)).text();
  const { sid } = JSON.parse(open.slice(1)) as { sid: string };
  const session = `${base}&sid=${sid}`;
  const post = async (body: string) => void (await (await fetch(session, { method: 'POST', body })).text());
  await post(`40${JSON.stringify({ token })}`);
  const messages: string[] = [];
  let reading = true;
  const loop = (async () => {
    while (reading) {
      const res = await fetch(session);
      const body = await res.text();
      if (res.status !== 200) return;
      for (const packet of body.split(RECORD_SEPARATOR)) {
        if (packet === '2') await post('3');
        messages.push(packet);
      }
    }
  })();
  const authenticated = () => messages.some((m) => m.startsWith('42["authenticated"'));
  while (!authenticated()) await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    messages,
    stall: () => Promise.resolve(void (reading = false)),
    async drainUntilClosed() {
      await loop;
      for (;;) {
        const res = await fetch(session);
        await res.text();
        if (res.status === 400) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => void (reading = false),
  };
}
