import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type TreeSpec = Record<
  string,
  | string
  | Uint8Array
  | { content: string | Uint8Array; mode: number }
  | { symlink: string }
  | { dir: number }
>;

/** A fresh directory under the OS temp dir; remove it with `removeDir`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `longrun-ws-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Fresh temp directories for one test: `fresh(name)` makes one, `removeAll()` removes them all. */
export function tempDirs(): { fresh: (prefix: string) => string; removeAll: () => void } {
  const made: string[] = [];
  return {
    fresh: (prefix) => {
      const dir = tempDir(prefix);
      made.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of made.splice(0)) removeDir(dir);
    },
  };
}

/** Writes files (default mode 0644), symlinks and directories (with a mode) under `root`. */
export function writeTree(root: string, spec: TreeSpec): void {
  for (const [path, value] of Object.entries(spec)) {
    const absolute = join(root, path);
    mkdirSync(dirname(absolute), { recursive: true });
    if (typeof value === 'string' || value instanceof Uint8Array) {
      writeFileSync(absolute, value, { mode: 0o644 });
      chmodSync(absolute, 0o644);
    } else if ('symlink' in value) {
      symlinkSync(value.symlink, absolute);
    } else if ('dir' in value) {
      mkdirSync(absolute, { recursive: true });
      chmodSync(absolute, value.dir);
    } else {
      writeFileSync(absolute, value.content);
      chmodSync(absolute, value.mode);
    }
  }
}

export interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  /** File bytes as hex of their SHA-256-free raw content (base64), or a symlink's target. */
  data?: string;
}

/** Everything under `root`, path → type, permission bits and full content: for exact comparison. */
export function readTree(root: string): Record<string, TreeNode> {
  const out: Record<string, TreeNode> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const stat = lstatSync(join(root, path));
      const mode = stat.mode & 0o7777;
      if (stat.isSymbolicLink())
        out[path] = { type: 'symlink', mode: 0, data: readlinkSync(join(root, path)) };
      else if (stat.isFile())
        out[path] = { type: 'file', mode, data: readFileSync(join(root, path)).toString('base64') };
      else if (stat.isDirectory()) {
        out[path] = { type: 'dir', mode };
        walk(path);
      } else out[path] = { type: 'other', mode };
    }
  };
  walk('');
  return out;
}
