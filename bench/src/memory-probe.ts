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

function once(connections: number): MemoryAfterGc {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('start this process with --expose-gc to measure heap after gc');
  // Twice: weak references and finalizers freed by the first pass are collected by the second.
  gc();
  gc();
  const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, heapTotal, external, arrayBuffers, rss, connections };
}

/**
 * Heap after a full gc, read three times 150 ms apart, keeping the smallest heap: a
 * reading that lands while a timer is building garbage-free but live work (a presence
 * heartbeat pipeline over every socket) would otherwise count that work as per-connection.
 */
export async function memoryAfterGc(connections: () => number): Promise<MemoryAfterGc> {
  let best = once(connections());
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const next = once(connections());
    if (next.heapUsed < best.heapUsed) best = next;
  }
  return best;
}
