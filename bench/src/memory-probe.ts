/** Heap and RSS of this process right after a full gc (needs `node --expose-gc`). */
export interface MemoryAfterGc {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** Connections the server holds at that moment. */
  connections: number;
}

/**
 * Runs a full gc (twice: weak references and finalizers freed by the first pass are
 * collected by the second) and reads `process.memoryUsage()`.
 */
export function memoryAfterGc(connections: number): MemoryAfterGc {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('start this process with --expose-gc to measure heap after gc');
  gc();
  gc();
  const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, heapTotal, external, arrayBuffers, rss, connections };
}
