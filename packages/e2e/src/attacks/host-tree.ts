import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One line per entry under `dir` (itself included): path, type, owner, mode, size and content
 * hash — lstat'ed, never following a link. Equal before and after an attack means the attack
 * created, changed, re-owned and removed nothing there. Bounded: at most 10,000 entries.
 */
export function describeTree(dir: string): string[] {
  const lines: string[] = [];
  const pending = [''];
  for (let rel = pending.pop(); rel !== undefined && lines.length < 10_000; rel = pending.pop()) {
    const path = rel === '' ? dir : join(dir, rel);
    const stat = lstatSync(path);
    const type = stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : 'other';
    const hash =
      type === 'file' ? createHash('sha256').update(readFileSync(path)).digest('hex') : '-';
    const mode = (stat.mode & 0o7777).toString(8);
    lines.push(`${rel || '.'} ${type} ${stat.uid}:${stat.gid} ${mode} ${stat.size} ${hash}`);
    if (type === 'dir') for (const name of readdirSync(path)) pending.push(join(rel, name));
  }
  return lines.sort();
}

/** True when something (even a dangling link) exists at `path`. */
export function existsNoFollow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
