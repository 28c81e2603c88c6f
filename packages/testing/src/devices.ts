import { io, type Socket } from 'socket.io-client';

export interface Received {
  event: string;
  args: unknown[];
}

/** A connected socket.io-client plus everything it received, in order. */
export interface Device {
  socket: Socket;
  received: Received[];
  /** Payloads (first argument) of `event`, in arrival order. */
  payloads(event: string): unknown[];
  close(): void;
}

export interface ConnectDeviceOptions {
  token?: string;
  /** @default ['websocket'] */
  transports?: Array<'websocket' | 'polling'>;
  /** @default '/socket.io/' */
  path?: string;
  /** Extra `auth` fields. */
  auth?: Record<string, unknown>;
  extraHeaders?: Record<string, string>;
  /** @default 5_000 */
  timeoutMs?: number;
  /** @default false: tests decide when a device comes back */
  reconnection?: boolean;
}

function record(socket: Socket): Device {
  const received: Received[] = [];
  socket.onAny((event: string, ...args: unknown[]) => received.push({ event, args }));
  return {
    socket,
    received,
    payloads: (event) => received.filter((r) => r.event === event).map((r) => r.args[0]),
    close: () => void socket.disconnect(),
  };
}

function open(url: string, options: ConnectDeviceOptions): Socket {
  return io(url, {
    path: options.path ?? '/socket.io/',
    transports: options.transports ?? ['websocket'],
    auth: { ...(options.token === undefined ? {} : { token: options.token }), ...options.auth },
    extraHeaders: options.extraHeaders,
    reconnection: options.reconnection ?? false,
    forceNew: true,
    timeout: options.timeoutMs ?? 5_000,
  });
}

/**
 * Connects a device and resolves once the server sent `authenticated`
 * (rejects with the `connect_error` otherwise).
 */
export async function connectDevice(url: string, options: ConnectDeviceOptions = {}): Promise<Device> {
  const socket = open(url, options);
  const device = record(socket);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('no authenticated event within timeout')),
      options.timeoutMs ?? 5_000,
    );
    socket.once('authenticated', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(error);
    });
  });
  return device;
}

/** Tries to connect and resolves with the `connect_error` message the server gave. */
export async function connectError(url: string, options: ConnectDeviceOptions = {}): Promise<string> {
  const socket = open(url, options);
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.once('connect_error', (error) => resolve(error.message));
      socket.once('authenticated', () => reject(new Error('connection was accepted')));
    });
  } finally {
    socket.disconnect();
  }
}
