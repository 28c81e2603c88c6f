export { startSocketNode } from './socket-node.js';
export type { SocketNode, SocketNodeOptions } from './socket-node.js';
export { extractToken } from './authenticate.js';
export type { AuthorizeRooms, RefusalData } from './authenticate.js';
export { createTokenVerifier } from './verification-keys.js';
export type { JwtOptions, TokenVerifier } from './verification-keys.js';
export { SocketNodeEnv, socketNodeOptionsFromEnv } from './config.js';
export type { HeraldServer, HeraldSocket, InterServerEvents } from './types.js';
