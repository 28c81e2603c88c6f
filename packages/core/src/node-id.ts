import { hostname } from 'node:os';

/** A name for this process that is unique across nodes and restarts. */
export function createNodeId(): string {
  return `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
}
