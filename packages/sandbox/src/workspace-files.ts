import {
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  lstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  writeSync,
} from 'node:fs';
import { posix } from 'node:path';
import { LongrunError, sandboxWorkspacePath } from '@longrun/core';

/**
 * File access confined to a workspace directory that untrusted code can change at any moment.
 * Every component is opened relative to the directory before it (through /proc/self/fd/N, which
 * Node lacks `openat` for) with O_NOFOLLOW, so a symlink or `..` swapped in between a check and
 * the use cannot lead out. A symlink met on the way is resolved and followed only if its target
 * is inside the workspace.
 */
export interface WorkspaceFiles {
  readFile(path: string): Uint8Array;
  writeFile(path: string, bytes: Uint8Array | string): void;
}

/** `owner`: uid/gid given to written files, so the sandbox user can change them later. */
export function workspaceFiles(root: string, owner?: { uid: number; gid: number }): WorkspaceFiles {
  return {
    readFile: (path) => withFile(root, path, 'read', (fd) => readFileSync(fd)),
    writeFile: (path, bytes) =>
      withFile(root, path, 'write', (fd) => {
        ftruncateSync(fd, 0);
        const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
        for (let offset = 0; offset < data.length;) {
          offset += writeSync(fd, data, offset, data.length - offset);
        }
        if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
      }),
  };
}

/** The path's components relative to the workspace, or PATH_OUTSIDE_WORKSPACE. */
export function workspaceComponents(path: string): string[] {
  let relative = path;
  if (path === sandboxWorkspacePath || path.startsWith(`${sandboxWorkspacePath}/`)) {
    relative = path.slice(sandboxWorkspacePath.length + 1);
  } else if (path.startsWith('/')) {
    throw outside(path, `absolute paths must be under ${sandboxWorkspacePath}`);
  }
  const normal = posix.normalize(relative === '' ? '.' : relative);
  if (path.includes('\0') || normal === '..' || normal.startsWith('../')) {
    throw outside(path, 'it leaves the workspace');
  }
  return normal.split('/').filter((part) => part !== '.' && part !== '');
}

type Mode = 'read' | 'write';

function withFile<T>(root: string, path: string, mode: Mode, use: (fd: number) => T): T {
  const parts = workspaceComponents(path);
  if (parts.length === 0) throw invalid(path, 'it names the workspace itself, not a file');
  const fd = openConfined(root, parts, mode, path, 0);
  try {
    if (!fstatSync(fd).isFile()) throw invalid(path, 'it is not a regular file');
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
const maxSymlinkHops = 8;

function openConfined(
  root: string,
  parts: string[],
  mode: Mode,
  path: string,
  hops: number,
): number {
  let dirFd = openSync(root, O_RDONLY | O_DIRECTORY);
  try {
    for (const [index, part] of parts.entries()) {
      const at = `/proc/self/fd/${dirFd}/${part}`;
      const last = index === parts.length - 1;
      if (!last && mode === 'write') mkdirIfMissing(at);
      // O_NONBLOCK: a FIFO planted by the sandbox must not hang the worker on open.
      const flags = last
        ? (mode === 'read' ? O_RDONLY : O_WRONLY | O_CREAT) | O_NOFOLLOW | O_NONBLOCK
        : O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
      let next: number;
      try {
        next = openSync(at, flags, 0o644);
      } catch (error) {
        if (!isSymlink(at)) throw translate(error, path);
        return followSymlink(root, parts, index, dirFd, mode, path, hops);
      }
      closeSync(dirFd);
      dirFd = next;
    }
    const fd = dirFd;
    dirFd = -1;
    return fd;
  } finally {
    if (dirFd !== -1) closeSync(dirFd);
  }
}

/** Resolves the symlink at parts[index]; carries on only if it stays inside the workspace. */
function followSymlink(
  root: string,
  parts: string[],
  index: number,
  dirFd: number,
  mode: Mode,
  path: string,
  hops: number,
): number {
  if (hops >= maxSymlinkHops) throw outside(path, 'too many symlinks');
  const rootReal = realpathSync(root);
  let target: string;
  try {
    target = realpathSync(`/proc/self/fd/${dirFd}/${parts[index]}`);
  } catch (error) {
    throw translate(error, path);
  }
  if (target !== rootReal && !target.startsWith(`${rootReal}/`)) {
    throw outside(path, 'a symlink on it points out of the workspace');
  }
  const rest = [
    ...target.slice(rootReal.length).split('/').filter(Boolean),
    ...parts.slice(index + 1),
  ];
  return openConfined(root, rest, mode, path, hops + 1);
}

function mkdirIfMissing(at: string): void {
  try {
    mkdirSync(at);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

function isSymlink(at: string): boolean {
  try {
    return lstatSync(at).isSymbolicLink();
  } catch {
    return false;
  }
}

function translate(error: unknown, path: string): LongrunError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new LongrunError('NOT_FOUND', `no file ${path} in the workspace`);
  if (error instanceof LongrunError) return error;
  return invalid(path, (error as Error).message);
}

function outside(path: string, why: string): LongrunError {
  return new LongrunError('PATH_OUTSIDE_WORKSPACE', `refused ${JSON.stringify(path)}: ${why}`);
}

function invalid(path: string, why: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', `cannot use ${JSON.stringify(path)}: ${why}`);
}
