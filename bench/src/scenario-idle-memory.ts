/**
 * Scenario 3: idle connections whose handshakes carry browser-sized headers. Fresh
 * socket nodes; node A is filled to `memoryNodeA` connections, then node B to
 * `memoryNodeB`, `memoryBatch` at a time, and after each batch both nodes report heap
 * and RSS after a full gc. Heap per connection is the slope on node A between
 * `memorySlopeFrom` and `memorySlopeTo` connections. The same is measured for a bare
 * `ws` server and a default-config Socket.IO server with the same clients and headers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { diffPerConnection, readHeapGroups, type HeapDiffEntry } from './heap-diff.js';
import type { MemoryAfterGc } from './memory-probe.js';
import type { BaselineKind } from './baseline-server.js';
import { sleep, type BenchContext } from './context.js';
import type { ConnectionKind } from './load-client.js';
import { round, slope } from './stats.js';

/** Headers a desktop browser sends on a WebSocket handshake, cookie padded so all come to ~1.5 KB. */
export function browserHeaders(targetBytes = 1_536): Record<string, string> {
  const headers: Record<string, string> = {
    'user-agent':
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    'accept-language': 'en-GB,en-US;q=0.9,en;q=0.8,es;q=0.7,de;q=0.6',
    'accept-encoding': 'gzip, deflate, br, zstd',
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    cookie: '',
  };
  const size = () => Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  const parts = ['_ga=GA1.1.1830571203.1718000000', '_ga_X1Y2Z3=GS1.1.1718000000.3.1.1718000500.0.0.0'];
  let i = 0;
  while (size() + parts.join('; ').length < targetBytes - 40) {
    parts.push(`pref_${i}=${'x'.repeat(24)}${String(i).padStart(4, '0')}`);
    i += 1;
  }
  const rest = targetBytes - size() - parts.join('; ').length - '; sid='.length;
  parts.push(`sid=${'s'.repeat(Math.max(8, rest))}`);
  headers.cookie = parts.join('; ');
  return headers;
}

export function headerBytes(headers: Record<string, string>): number {
  return Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
}

export interface MemoryPoint {
  connections: number;
  heapUsedMiB: number;
  rssMiB: number;
  externalMiB: number;
}

export interface ServerMemory {
  name: string;
  points: MemoryPoint[];
  /** Heap (after gc) per connection, KiB: slope between the slope bounds. */
  heapKiBPerConnection: number | null;
  rssKiBPerConnection: number | null;
  externalKiBPerConnection: number | null;
  slopeBetween: [number, number];
  connectFailures: number;
  connectErrors: string[];
}

export interface IdleMemoryResult {
  headerBytes: number;
  herald: ServerMemory[];
  baselines: ServerMemory[];
  /** Per node at the end (all connections held). */
  final: Array<{ name: string; connections: number; heapUsedMiB: number; rssMiB: number }>;
  /** Load processes' own memory with every connection open. */
  loadRssMiB: number[];
  /** What an idle Herald connection keeps on the heap: two snapshots of a fresh node, diffed. */
  retained: {
    between: [number, number];
    /** Self bytes per connection summed over every kind (≈ the heap slope). */
    totalBytesPerConnection: number;
    entries: HeapDiffEntry[];
  } | null;
}

const mib = (bytes: number) => round(bytes / 1_048_576, 1);

function toPoint(m: MemoryAfterGc): MemoryPoint {
  return {
    connections: m.connections,
    heapUsedMiB: mib(m.heapUsed),
    rssMiB: mib(m.rss),
    externalMiB: mib(m.external),
  };
}

function perConnection(
  points: MemoryPoint[],
  from: number,
  to: number,
  pick: (p: MemoryPoint) => number,
): number | null {
  const inside = points.filter((p) => p.connections >= from && p.connections <= to);
  const s = slope(inside.map((p) => ({ x: p.connections, y: pick(p) * 1024 })));
  return s === null ? null : round(s, 2);
}

function describeServer(
  name: string,
  points: MemoryPoint[],
  from: number,
  to: number,
  failures: number,
  errors: string[],
): ServerMemory {
  return {
    name,
    points,
    heapKiBPerConnection: perConnection(points, from, to, (p) => p.heapUsedMiB),
    rssKiBPerConnection: perConnection(points, from, to, (p) => p.rssMiB),
    externalKiBPerConnection: perConnection(points, from, to, (p) => p.externalMiB),
    slopeBetween: [from, to],
    connectFailures: failures,
    connectErrors: errors,
  };
}

/** Opens `count` connections split over the load processes; returns failures. */
async function connectBatch(
  ctx: BenchContext,
  url: string,
  kind: ConnectionKind,
  userIds: string[],
  headers: Record<string, string>,
  group: string,
): Promise<{ failed: number; errors: string[] }> {
  const loads = ctx.stack.loads;
  const results = await Promise.all(
    loads.map((load, i) =>
      load.call('connect', {
        url,
        kind,
        userIds: userIds.filter((_, j) => j % loads.length === i),
        jwtSecret: ctx.jwtSecret,
        extraHeaders: headers,
        concurrency: 50,
        group,
        timeoutMs: 30_000,
      }),
    ),
  );
  return {
    failed: results.reduce((n, r) => n + r.failed, 0),
    errors: [...new Set(results.flatMap((r) => r.errors))],
  };
}

export async function runIdleMemory(
  ctx: BenchContext,
  options: { heapSnapshots: boolean },
): Promise<IdleMemoryResult> {
  const { scale, stack } = ctx;
  const headers = browserHeaders();
  ctx.log(
    `scenario 3: ${scale.memoryNodeA + scale.memoryNodeB} idle connections with ${headerBytes(headers)} B of headers`,
  );
  // Fresh nodes: what earlier scenarios left in their heaps must not count.
  await stack.all('close', {});
  await stack.stopNodes();
  await stack.startNodes(2);
  const [nodeA, nodeB] = stack.nodes;
  if (!nodeA || !nodeB) throw new Error('two socket nodes expected');

  const pointsA: MemoryPoint[] = [];
  const pointsB: MemoryPoint[] = [];
  const checkpoint = async () => {
    await sleep(300);
    const [a, b] = await Promise.all([
      nodeA.child.call('memory', undefined),
      nodeB.child.call('memory', undefined),
    ]);
    pointsA.push(toPoint(a));
    pointsB.push(toPoint(b));
    return [a, b] as const;
  };
  await checkpoint();
  let failures = 0;
  const errors = new Set<string>();
  let user = 0;
  for (const [node, total] of [
    [nodeA, scale.memoryNodeA],
    [nodeB, scale.memoryNodeB],
  ] as const) {
    for (let n = 0; n < total; n += scale.memoryBatch) {
      const ids = Array.from({ length: Math.min(scale.memoryBatch, total - n) }, () => `idle-${user++}`);
      const batch = await connectBatch(ctx, node.url, 'herald', ids, headers, 'idle');
      failures += batch.failed;
      for (const e of batch.errors) errors.add(e);
      const [a, b] = await checkpoint();
      ctx.log(
        `  ${a.connections} + ${b.connections} connections: heap ${mib(a.heapUsed)} / ${mib(b.heapUsed)} MiB, ` +
          `rss ${mib(a.rss)} / ${mib(b.rss)} MiB`,
      );
    }
  }
  const loadStatus = await stack.all('status', undefined);
  const heraldA = describeServer(
    'herald socket-node-a',
    pointsA,
    scale.memorySlopeFrom,
    scale.memorySlopeTo,
    failures,
    [...errors],
  );
  const heraldB = describeServer(
    'herald socket-node-b',
    pointsB,
    scale.memorySlopeFrom,
    scale.memoryNodeB,
    0,
    [],
  );
  const last = (points: MemoryPoint[]) => points.at(-1) as MemoryPoint;
  const final = [
    { name: nodeA.name, ...pick(last(pointsA)) },
    { name: nodeB.name, ...pick(last(pointsB)) },
  ];
  await stack.all('close', { group: 'idle' });
  await stack.stopNodes();

  const baselines: ServerMemory[] = [];
  const names: Record<BaselineKind, string> = {
    ws: 'bare ws server',
    socketio: 'Socket.IO, default config',
    'socketio-lean': 'Socket.IO, handshake dropped after connect',
  };
  for (const kind of ['ws', 'socketio', 'socketio-lean'] as const) {
    const { child, port } = await stack.startBaseline(kind);
    const points: MemoryPoint[] = [toPoint(await child.call('memory', undefined))];
    let baseFailures = 0;
    const baseErrors = new Set<string>();
    const batchSize = scale.memoryBatch * 2;
    for (let n = 0; n < scale.baselineConnections; n += batchSize) {
      const ids = Array.from(
        { length: Math.min(batchSize, scale.baselineConnections - n) },
        (_, i) => `b-${n + i}`,
      );
      const url = kind === 'ws' ? `ws://127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
      const clientKind = kind === 'ws' ? 'ws' : 'socketio';
      const batch = await connectBatch(ctx, url, clientKind, ids, headers, `baseline-${kind}`);
      baseFailures += batch.failed;
      for (const e of batch.errors) baseErrors.add(e);
      await sleep(300);
      points.push(toPoint(await child.call('memory', undefined)));
    }
    const described = describeServer(
      names[kind],
      points,
      scale.memorySlopeFrom,
      scale.memorySlopeTo,
      baseFailures,
      [...baseErrors],
    );
    ctx.log(
      `  ${described.name}: ${described.heapKiBPerConnection} KiB heap per connection ` +
        `(${points.at(-1)?.connections} connections)`,
    );
    baselines.push(described);
    await stack.all('close', { group: `baseline-${kind}` });
    await child.stop();
  }
  ctx.log(
    `  herald: ${heraldA.heapKiBPerConnection} KiB heap per connection (node A, ` +
      `${scale.memorySlopeFrom}-${scale.memorySlopeTo}); node B ${heraldB.heapKiBPerConnection}`,
  );
  const retained = options.heapSnapshots ? await snapshotDiff(ctx, headers) : null;
  return {
    headerBytes: headerBytes(headers),
    herald: [heraldA, heraldB],
    baselines,
    final,
    loadRssMiB: loadStatus.map((s) => mib(s.memory.rss)),
    retained,
  };
}

/** Two heap snapshots of a fresh node (at `snapshotFrom` and `snapshotTo` idle connections), diffed per connection. */
async function snapshotDiff(
  ctx: BenchContext,
  headers: Record<string, string>,
): Promise<IdleMemoryResult['retained']> {
  const { scale, stack } = ctx;
  const from = scale.snapshotFrom;
  const to = scale.snapshotTo;
  ctx.log(`  heap snapshots of a fresh node at ${from} and ${to} idle connections`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-heap-'));
  try {
    await stack.startNodes(1);
    const node = stack.nodes[0];
    if (!node) throw new Error('no socket node');
    const ids = (start: number, count: number) =>
      Array.from({ length: count }, (_, i) => `snap-${start + i}`);
    await connectBatch(ctx, node.url, 'herald', ids(0, from), headers, 'snapshot');
    await sleep(300);
    const before = await node.child.call('heapSnapshot', { file: path.join(dir, 'before.heapsnapshot') });
    await connectBatch(ctx, node.url, 'herald', ids(from, to - from), headers, 'snapshot');
    await sleep(300);
    const after = await node.child.call('heapSnapshot', { file: path.join(dir, 'after.heapsnapshot') });
    await stack.all('close', { group: 'snapshot' });
    await stack.stopNodes();
    const diff = diffPerConnection(await readHeapGroups(before), await readHeapGroups(after), to - from);
    for (const e of diff.entries.slice(0, 6)) {
      ctx.log(`    ${String(e.bytesPerConnection).padStart(6)} B  ${e.countPerConnection} × ${e.what}`);
    }
    return { between: [from, to], ...diff };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function pick(p: MemoryPoint) {
  return { connections: p.connections, heapUsedMiB: p.heapUsedMiB, rssMiB: p.rssMiB };
}
