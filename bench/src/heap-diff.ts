import { readFile } from 'node:fs/promises';

interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count of the heap objects of one kind. */
export interface HeapGroup {
  count: number;
  bytes: number;
}

/**
 * Groups a `.heapsnapshot` by what the objects are: objects by constructor name,
 * closures by function name, strings by their first characters (so a header value kept
 * once per connection shows up as one line), everything else by V8's node type.
 */
export async function readHeapGroups(file: string): Promise<Map<string, HeapGroup>> {
  const snapshot = JSON.parse(await readFile(file, 'utf8')) as HeapSnapshotFile;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt] as number] ?? 'unknown';
    const name = strings[nodes[i + nameAt] as number] ?? '';
    const size = nodes[i + sizeAt] as number;
    let key: string;
    if (type === 'object') key = name || '(object)';
    else if (type === 'closure') key = `closure ${name || '(anonymous)'}`;
    else if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
      key = `string "${name.slice(0, 40).replace(/\s+/g, ' ')}${name.length > 40 ? '…' : ''}"`;
    else key = `(${type}) ${name.slice(0, 40)}`;
    const group = groups.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += size;
    groups.set(key, group);
  }
  return groups;
}

export interface HeapDiffEntry {
  what: string;
  /** Objects of this kind added per connection. */
  countPerConnection: number;
  /** Self bytes of this kind added per connection. */
  bytesPerConnection: number;
}

/** What `connections` more idle connections added, per connection, largest first. */
export function diffPerConnection(
  before: Map<string, HeapGroup>,
  after: Map<string, HeapGroup>,
  connections: number,
  top = 25,
): { totalBytesPerConnection: number; entries: HeapDiffEntry[] } {
  const entries: HeapDiffEntry[] = [];
  let total = 0;
  // Strings that occur once or twice (socket ids, tokens, random values) make one line together.
  const distinct = '(strings with distinct values: ids, tokens, …)';
  const merge = (groups: Map<string, HeapGroup>) => {
    const merged = new Map<string, HeapGroup>();
    for (const [what, g] of groups) {
      const key = what.startsWith('string "') && g.count <= 2 ? distinct : what;
      const m = merged.get(key) ?? { count: 0, bytes: 0 };
      m.count += g.count;
      m.bytes += g.bytes;
      merged.set(key, m);
    }
    return merged;
  };
  before = merge(before);
  after = merge(after);
  for (const [what, a] of after) {
    const b = before.get(what) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / connections;
    total += bytes;
    entries.push({
      what,
      countPerConnection: Math.round(((a.count - b.count) / connections) * 100) / 100,
      bytesPerConnection: Math.round(bytes),
    });
  }
  for (const [what, b] of before) if (!after.has(what)) total -= b.bytes / connections;
  entries.sort((x, y) => y.bytesPerConnection - x.bytesPerConnection);
  return { totalBytesPerConnection: Math.round(total), entries: entries.slice(0, top) };
}
