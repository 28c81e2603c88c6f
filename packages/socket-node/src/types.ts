import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '@herald/contracts';

/** Socket nodes talk to each other only through the Redis adapter, so there are no inter-server events. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type InterServerEvents = {};

/** The Socket.IO server of a socket node, typed by the contracts' event maps. */
export type HeraldServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** One connected (or connecting) device. */
export type HeraldSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
