/**
 * The one way worker code touches a session's workspace (DESIGN §6): the built-in tools, a
 * sandbox's file calls, snapshots, restores and diffs all go through an implementation of this
 * port, never through a host path. The workspace is a directory that untrusted code (the
 * sandboxed commands) changes at any moment, and worker code may run as root, so every
 * implementation promises:
 *
 * - paths are relative to the workspace (or absolute under `/workspace`); `..` that leaves it is
 *   PATH_OUTSIDE_WORKSPACE;
 * - no link in the workspace is ever followed, whether or not its target exists: a path that
 *   names or passes through a symbolic link is FILE_TYPE_REFUSED (a link can be listed, removed
 *   or replaced, never read or written through);
 * - only regular files and directories are opened: FIFOs, sockets and devices are
 *   FILE_TYPE_REFUSED without being opened, so nothing blocks and no device is touched;
 * - files are created exclusively and replaced by rename, never written in place, so a hard or
 *   symbolic link swapped in by a racing command cannot redirect a write;
 * - reads check the size before reading (FILE_TOO_LARGE over the limit) and read in bounded
 *   chunks, so a huge file costs the worker no more memory than the limit.
 */

/** What a path holds, as seen without following links. */
export type WorkspaceEntryType = 'file' | 'dir' | 'symlink' | 'special';

export interface WorkspaceEntry {
  /** Relative to the workspace, `/`-separated; '' is the workspace itself. */
  path: string;
  type: WorkspaceEntryType;
  /** Bytes, for a file. */
  size: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  mtimeMs: number;
}

export interface WorkspaceListOptions {
  /** Descend into subdirectories. Default false. */
  recursive?: boolean;
  /** Directory names not descended into (e.g. `node_modules`, `.git`); they are still listed. */
  skipDirs?: readonly string[];
  /** Most entries returned; `truncated` says when more were left out. Default 10,000. */
  maxEntries?: number;
}

export interface WorkspaceListing {
  /** Sorted by path. */
  entries: WorkspaceEntry[];
  truncated: boolean;
}

export interface WorkspaceFiles {
  /** What is at `path`, or null when nothing is. */
  stat(path: string): Promise<WorkspaceEntry | null>;
  /** A regular file's bytes; FILE_TOO_LARGE past `maxBytes` (default 16 MiB), checked first. */
  readFile(path: string, options?: { maxBytes?: number }): Promise<Uint8Array>;
  /**
   * Creates or replaces a regular file (never writing through what was there), creating missing
   * parent directories. Keeps a replaced file's mode unless `mode` is given (default 0o644).
   */
  writeFile(path: string, data: Uint8Array | string, options?: { mode?: number }): Promise<void>;
  /** Creates a directory and its missing parents. */
  mkdir(path: string): Promise<void>;
  /** Removes a file, link or whole directory tree, never following a link. Absent is fine. */
  remove(path: string): Promise<void>;
  /** The entries under a directory (`''` or `.` is the workspace). */
  list(path: string, options?: WorkspaceListOptions): Promise<WorkspaceListing>;
}
