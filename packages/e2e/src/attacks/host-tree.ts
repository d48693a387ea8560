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

function mountedAt(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir);
}

/**
 * Waits until a session's workspace directory on the host holds what its last sandbox left: a
 * sandbox's close, which runs after the session's end is recorded, unmounts the capped copy and
 * copies it back (into `<dir>.longrun-new`, renamed over `<dir>`). Settled: nothing mounted
 * there, no copy in progress, twice in a row 100 ms apart. Bounded by `timeoutMs`.
 */
export async function settledWorkspace(dir: string, timeoutMs = 10_000): Promise<void> {
  const busy = () =>
    mountedAt(dir) || existsNoFollow(`${dir}.longrun-new`) || existsNoFollow(`${dir}.longrun-old`);
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) throw new Error(`workspace ${dir} not settled in ${timeoutMs} ms`);
    quiet = busy() ? 0 : quiet + 1;
    await new Promise((r) => setTimeout(r, 100));
  }
}
