/**
 * A tiny typed request/response protocol over Node's IPC channel, between the
 * bench orchestrator and the child processes it starts (load clients, publishers,
 * socket-node wrappers). Children are spawned with `serialization: 'advanced'`,
 * so typed arrays (latencies) cross the channel without JSON.
 */

// Every method takes at most one argument object and may be async.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RpcApi = Record<string, (args: any) => unknown>;

export type RpcArgs<Api extends RpcApi, K extends keyof Api> = Parameters<Api[K]>[0];
export type RpcResult<Api extends RpcApi, K extends keyof Api> = Awaited<ReturnType<Api[K]>>;

export interface RpcRequest {
  id: number;
  cmd: string;
  args: unknown;
}

export type RpcResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Sent once by a child when it is ready to serve calls. */
export interface RpcReady {
  ready: true;
}

export function isRpcResponse(message: unknown): message is RpcResponse {
  return typeof message === 'object' && message !== null && 'id' in message && 'ok' in message;
}

export function isRpcReady(message: unknown): message is RpcReady {
  return typeof message === 'object' && message !== null && 'ready' in message;
}

/**
 * Child side: answers the orchestrator's calls with `handlers`, announces itself
 * ready, and exits when the orchestrator goes away (the IPC channel closes), so a
 * crashed or killed bench never leaves load behind.
 */
export function serveRpc(handlers: RpcApi, onParentGone: () => void = () => process.exit(0)): void {
  const send = process.send?.bind(process);
  if (!send)
    throw new Error('serveRpc: this process has no IPC channel; start it from the bench orchestrator');
  process.on('message', (message: RpcRequest) => {
    const handler = handlers[message.cmd];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        const result: unknown = await handler(message.args);
        send({ id: message.id, ok: true, result } satisfies RpcResponse);
      } catch (error) {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        send({ id: message.id, ok: false, error: text } satisfies RpcResponse);
      }
    })();
  });
  process.on('disconnect', onParentGone);
  send({ ready: true } satisfies RpcReady);
}
