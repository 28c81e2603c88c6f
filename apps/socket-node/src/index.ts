export { startSocketNode } from './socket-node.js';
export type { SocketNode, SocketNodeOptions } from './socket-node.js';
export { extractToken, userRoom } from './authenticate.js';
export type { RefusalData } from './authenticate.js';
export { SocketNodeEnv, socketNodeOptionsFromEnv } from './config.js';
export type { HeraldServer, HeraldSocket, InterServerEvents } from './types.js';
