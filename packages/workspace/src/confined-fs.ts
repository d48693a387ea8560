import {
  closeSync,
  constants,
  fstatSync,
  lchownSync,
  mkdirSync,
  openSync,
  type BigIntStats,
} from 'node:fs';
import { posix } from 'node:path';
import { LongrunError, sandboxWorkspacePath } from '@longrun/core';

/**
 * The file-system primitives under ConfinedWorkspaceFiles. Node has no openat(2); a directory
 * open as `dirFd` is reached through `/proc/self/fd/<dirFd>/<name>`, which resolves the magic
 * link to exactly the inode held (wherever it was renamed to) and then looks up one name in it.
 * Every name is opened with O_PATH | O_NOFOLLOW: a descriptor that names the inode without
 * opening it for I/O, so a FIFO cannot block, a device driver never runs, and a symbolic link is
 * seen as a link (never followed). Its type is then read with fstat, and only a regular file is
 * reopened for I/O (through `/proc/self/fd/<fd>`, the same inode: nothing can be swapped in
 * between the check and the use). Linux only, like the sandboxes.
 */

/** Linux's O_PATH; Node does not export it. */
export const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY } = constants;

/** How deep a workspace tree may go; deeper is refused rather than walked. */
export const maxDepth = 256;

/** `name` inside the directory open as `dirFd`. */
export function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/** The same for a name as raw bytes (a name that is not valid UTF-8 survives only this way). */
export function atRaw(dirFd: number, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dirFd}/`), name]);
}

/** The inode open as `fd` itself. */
export function inode(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** The components of a workspace path, relative to the workspace; [] is the workspace itself. */
export function workspacePathParts(path: string): string[] {
  if (typeof path !== 'string' || path.includes('\0')) {
    throw new LongrunError('INVALID_ARGUMENT', 'a workspace path must be a string without NUL');
  }
  let relative = path;
  if (path === sandboxWorkspacePath || path.startsWith(`${sandboxWorkspacePath}/`)) {
    relative = path.slice(sandboxWorkspacePath.length + 1);
  } else if (path.startsWith('/')) {
    throw outside(path, `absolute paths must be under ${sandboxWorkspacePath}`);
  }
  // Lexical: `a/..` is `.` whatever `a` is, which is right when no link is ever followed.
  const normal = posix.normalize(relative === '' ? '.' : relative);
  if (normal === '..' || normal.startsWith('../')) throw outside(path, 'it leaves the workspace');
  const parts = normal.split('/').filter((part) => part !== '.' && part !== '');
  if (parts.length > maxDepth) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(path)} is deeper than ${maxDepth}`,
    );
  }
  return parts;
}

/** The inode `name` in `dirFd` names, as O_PATH (never followed, never opened for I/O). */
export function openNoFollow(dirFd: number, name: string, path: string): number {
  try {
    return openSync(at(dirFd, name), O_PATH | O_NOFOLLOW);
  } catch (error) {
    throw translateFsError(error, path);
  }
}

export function statOf(fd: number): BigIntStats {
  return fstatSync(fd, { bigint: true });
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed; nothing to release.
  }
}

/** The workspace root as O_PATH. The root path is the worker's own, so it may be followed. */
export function openRoot(root: string): number {
  try {
    return openSync(root, O_PATH | O_DIRECTORY);
  } catch (error) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `workspace ${root} cannot be opened as a directory: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * The directory at `parts` below the root, as O_PATH, every component checked to be a real
 * directory (a link or special file on the way is FILE_TYPE_REFUSED). With `create`, missing
 * components are made (mode 0o755, given to `owner`); one swapped for a link right after is
 * still caught, since each is checked after it is opened.
 */
export function openDirAt(
  root: string,
  parts: readonly string[],
  path: string,
  create: { owner: Owner | undefined } | null = null,
): number {
  let dirFd = openRoot(root);
  try {
    for (const [index, part] of parts.entries()) {
      if (create !== null) makeDir(dirFd, part, path, create.owner);
      const next = openNoFollow(dirFd, part, path);
      const stat = statOf(next);
      if (!stat.isDirectory()) {
        closeQuietly(next);
        const shown = parts.slice(0, index + 1).join('/');
        throw refusedType(path, stat, shown === path ? null : shown);
      }
      closeQuietly(dirFd);
      dirFd = next;
    }
    return dirFd;
  } catch (error) {
    closeQuietly(dirFd);
    throw error;
  }
}

/** mkdir of `name` in `dirFd`, unless something is there already (checked by the caller). */
export function makeDir(dirFd: number, name: string, path: string, owner: Owner | undefined) {
  try {
    mkdirSync(at(dirFd, name), { mode: 0o755 });
    if (owner !== undefined) lchownSync(at(dirFd, name), owner.uid, owner.gid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw translateFsError(error, path);
  }
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'special';

export function typeOf(stat: BigIntStats): EntryType {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  return 'special';
}

export function kindOf(stat: BigIntStats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isDirectory()) return 'a directory';
  return 'a special file';
}

/** FILE_TYPE_REFUSED for `path`, or for `via` (a component of it) when that is the culprit. */
export function refusedType(path: string, stat: BigIntStats, via: string | null): LongrunError {
  const what =
    via === null
      ? JSON.stringify(path)
      : `${JSON.stringify(via)} (on the way to ${JSON.stringify(path)})`;
  const hint = stat.isSymbolicLink()
    ? 'longrun never follows links in a workspace; use the path the link points to'
    : 'only regular files and directories can be opened';
  return new LongrunError('FILE_TYPE_REFUSED', `${what} is ${kindOf(stat)}: ${hint}`);
}

export function outside(path: string, why: string): LongrunError {
  return new LongrunError('PATH_OUTSIDE_WORKSPACE', `refused ${JSON.stringify(path)}: ${why}`);
}

/** An errno from a confined call, as the typed error the caller (or the model) acts on. */
export function translateFsError(error: unknown, path: string): LongrunError {
  if (error instanceof LongrunError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const shown = JSON.stringify(path);
  switch (code) {
    case 'ENOENT':
      return new LongrunError('NOT_FOUND', `no file or directory ${shown} in the workspace`);
    case 'ENOTDIR':
      return new LongrunError('INVALID_ARGUMENT', `a component of ${shown} is not a directory`);
    case 'EISDIR':
    case 'ENOTEMPTY':
    case 'EEXIST':
      return new LongrunError('INVALID_ARGUMENT', `${shown} is a directory, not a file`);
    case 'ELOOP':
      return new LongrunError(
        'FILE_TYPE_REFUSED',
        `${shown} is a symbolic link: longrun never follows links in a workspace`,
      );
    case 'ENAMETOOLONG':
      return new LongrunError('INVALID_ARGUMENT', `${shown} is too long a name`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new LongrunError(
        'WORKSPACE_FULL',
        `no room to write ${shown}: the workspace is full; delete files or raise its size cap`,
        { cause: error },
      );
    default:
      return new LongrunError(
        'INVALID_ARGUMENT',
        `cannot use ${shown}: ${(error as Error).message}`,
        { cause: error },
      );
  }
}
