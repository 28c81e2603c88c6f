import type { z } from 'zod';
import type { FieldIssue } from './errors.js';

/** Renders a zod issue path as `a.b[0].c`, rooted at `root`. */
export function formatPath(root: string, path: ReadonlyArray<PropertyKey>): string {
  let out = root;
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  }
  return out || '(root)';
}

/** Flattens a zod error into field issues whose paths start at `root`. */
export function toFieldIssues(error: z.ZodError, root = ''): FieldIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(root, issue.path), message: issue.message }));
}

/** `a: msg; b: msg`, for one-line error messages. */
export function describeIssues(issues: FieldIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}
