import { randomBytes } from 'node:crypto';
import {
  constants,
  lstatSync,
  readdirSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  chmodSync,
  chownSync,
  lchownSync,
  type BigIntStats,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  LongrunError,
  type WorkspaceEntry,
  type WorkspaceFiles,
  type WorkspaceListing,
  type WorkspaceListOptions,
} from '@longrun/core';
import {
  fileWriter,
  readBounded,
  removeAt,
  tooLarge,
  unlinkQuietly,
  type FileWriter,
} from './confined-io.ts';
import {
  at,
  atRaw,
  closeQuietly,
  inode,
  maxDepth,
  openDirAt,
  openNoFollow,
  refusedType,
  statOf,
  translateFsError,
  typeOf,
  workspacePathParts,
  type EntryType,
  type Owner,
} from './confined-fs.ts';

export type { FileWriter };

export const defaultMaxReadBytes = 16 * 1024 * 1024;
const readChunkBytes = 1024 * 1024;
const defaultMaxListEntries = 10_000;
/** Entries stat'ed between two yields, so a huge tree does not stall lease renewals. */
const entriesPerSlice = 512;
/** Prefix of the names files are written under before the rename; a leftover one is junk. */
export const tempPrefix = '.longrun-tmp-';
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

/** One entry of a walk, with the full lstat (the snapshotter's stat cache needs ns and inodes). */
export interface WalkedEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly stat: BigIntStats;
}

export interface Walk {
  /** In walk order (not sorted). */
  entries: WalkedEntry[];
  /** Names that are not valid UTF-8 (a manifest cannot hold them), left out. */
  unnameable: string[];
  truncated: boolean;
}

/**
 * The workspace accessor (core's WorkspaceFiles port, plus what snapshots and restores need):
 * confined to `root`, following no link, opening only regular files and directories, writing by
 * exclusive create and rename, reading within a size limit. `owner` is given every file and
 * directory it makes, so the sandbox user can change them later. The root path is the worker's
 * own and is reopened on every call (a sandbox may mount over it, or a close rename it).
 */
export class ConfinedWorkspaceFiles implements WorkspaceFiles {
  readonly #root: string;
  readonly #owner: Owner | undefined;

  constructor(root: string, options: { owner?: Owner } = {}) {
    this.#root = root;
    this.#owner = options.owner;
  }

  async stat(path: string): Promise<WorkspaceEntry | null> {
    const parts = workspacePathParts(path);
    const found = this.#lookup(parts, path);
    if (found === null) return null;
    return entryOf(parts.join('/'), found);
  }

  async readFile(path: string, options: { maxBytes?: number } = {}): Promise<Uint8Array> {
    const maxBytes = options.maxBytes ?? defaultMaxReadBytes;
    const { handle, stat } = await this.openRegular(path);
    try {
      if (stat.size > BigInt(maxBytes)) throw tooLarge(path, Number(stat.size), maxBytes);
      return await readBounded(handle, maxBytes, path, Number(stat.size));
    } finally {
      await handle.close();
    }
  }

  async writeFile(
    path: string,
    data: Uint8Array | string,
    options: { mode?: number } = {},
  ): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const writer = await this.createFile(path, options.mode);
    try {
      for (let offset = 0; offset < bytes.length; offset += readChunkBytes) {
        await writer.write(bytes.subarray(offset, offset + readChunkBytes));
      }
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
  }

  async mkdir(path: string): Promise<void> {
    const parts = workspacePathParts(path);
    closeQuietly(openDirAt(this.#root, parts, path, { owner: this.#owner }));
  }

  async remove(path: string): Promise<void> {
    const parts = workspacePathParts(path);
    const name = parts.at(-1);
    if (name === undefined) {
      throw new LongrunError('INVALID_ARGUMENT', 'refusing to remove the workspace itself');
    }
    let dirFd: number;
    try {
      dirFd = openDirAt(this.#root, parts.slice(0, -1), path);
    } catch (error) {
      if ((error as LongrunError).code === 'NOT_FOUND') return;
      throw error;
    }
    try {
      removeAt(dirFd, Buffer.from(name), path, 0);
    } finally {
      closeQuietly(dirFd);
    }
  }

  async list(path: string, options: WorkspaceListOptions = {}): Promise<WorkspaceListing> {
    const walk = await this.walk(path, {
      recursive: options.recursive ?? false,
      skipDirs: new Set(options.skipDirs ?? []),
      maxEntries: options.maxEntries ?? defaultMaxListEntries,
    });
    const entries = walk.entries.map((e) => entryOf(e.path, e.stat));
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { entries, truncated: walk.truncated };
  }

  /**
   * Every entry under `path` (relative paths from the workspace root), lstat'ed, never following
   * a link; the event loop runs between slices. Directories that vanish or turn into something
   * else mid-walk are left out, like files deleted mid-walk.
   */
  async walk(
    path: string,
    options: { recursive: boolean; skipDirs?: ReadonlySet<string>; maxEntries?: number },
  ): Promise<Walk> {
    const start = workspacePathParts(path);
    const result: Walk = { entries: [], unnameable: [], truncated: false };
    const max = options.maxEntries ?? Number.POSITIVE_INFINITY;
    const pending: string[][] = [start];
    let sinceYield = 0;
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      const children = this.#readDir(dir, path, dir === start);
      for (const child of children) {
        if (result.entries.length >= max) {
          result.truncated = true;
          return result;
        }
        if (child.name === null || child.stat === null) {
          result.unnameable.push([...dir, child.raw.toString('utf8')].join('/'));
          continue;
        }
        const childPath = [...dir, child.name].join('/');
        result.entries.push({ path: childPath, type: typeOf(child.stat), stat: child.stat });
        const descend =
          options.recursive && child.stat.isDirectory() && !options.skipDirs?.has(child.name);
        if (descend && dir.length + 1 < maxDepth) pending.push([...dir, child.name]);
        if (++sinceYield >= entriesPerSlice) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
    }
    return result;
  }

  /**
   * Gives the workspace and everything in it to `owner`: a link itself, never what it points to
   * (lchown through the directory's descriptor, and no descent into a linked directory). For a
   * sandbox about to open, before any of its commands runs.
   */
  chownAll(owner: Owner): void {
    const root = openDirAt(this.#root, [], '');
    try {
      chownSync(inode(root), owner.uid, owner.gid);
    } finally {
      closeQuietly(root);
    }
    const pending: string[][] = [[]];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      let dirFd: number;
      try {
        dirFd = openDirAt(this.#root, dir, dir.join('/'));
      } catch {
        continue; // gone since it was listed
      }
      try {
        for (const name of readdirSync(inode(dirFd), { encoding: 'buffer' })) {
          const path = atRaw(dirFd, name);
          let stat: BigIntStats;
          try {
            stat = lstatSync(path, { bigint: true });
            lchownSync(path, owner.uid, owner.gid);
          } catch {
            continue;
          }
          const decoded = name.toString('utf8');
          const nameable = Buffer.from(decoded, 'utf8').equals(name);
          if (stat.isDirectory() && nameable && dir.length + 1 < maxDepth)
            pending.push([...dir, decoded]);
        }
      } finally {
        closeQuietly(dirFd);
      }
    }
  }

  /** A regular file opened for reading, with its fstat; FILE_TYPE_REFUSED for anything else. */
  async openRegular(path: string): Promise<{ handle: FileHandle; stat: BigIntStats }> {
    const parts = workspacePathParts(path);
    const name = parts.at(-1);
    if (name === undefined) throw notAFile(path);
    const dirFd = openDirAt(this.#root, parts.slice(0, -1), path);
    try {
      const fd = openNoFollow(dirFd, name, path);
      try {
        const stat = statOf(fd);
        if (!stat.isFile())
          throw stat.isDirectory() ? notAFile(path) : refusedType(path, stat, null);
        // The same inode, reopened for reading: nothing could be swapped in since the check.
        const handle = await open(inode(fd), O_RDONLY).catch((error: unknown) => {
          throw translateFsError(error, path);
        });
        return { handle, stat };
      } finally {
        closeQuietly(fd);
      }
    } finally {
      closeQuietly(dirFd);
    }
  }

  /**
   * Starts a file at `path` under a temporary name beside it (created exclusively, O_NOFOLLOW);
   * `commit` renames it over whatever is there, which replaces a link rather than writing
   * through it. Keeps the mode of a regular file it replaces unless `mode` is given.
   */
  async createFile(path: string, mode?: number): Promise<FileWriter> {
    const parts = workspacePathParts(path);
    const name = parts.at(-1);
    if (name === undefined) throw notAFile(path);
    const dirFd = openDirAt(this.#root, parts.slice(0, -1), path, { owner: this.#owner });
    let handle: FileHandle | undefined;
    const temp = `${tempPrefix}${randomBytes(8).toString('hex')}`;
    try {
      const existing = statOrNull(dirFd, name, path);
      if (existing !== null && !existing.isFile()) {
        throw existing.isDirectory() ? notAFile(path) : refusedType(path, existing, null);
      }
      const finalMode = mode ?? (existing === null ? 0o644 : Number(existing.mode) & 0o7777);
      handle = await open(at(dirFd, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      if (this.#owner !== undefined) await handle.chown(this.#owner.uid, this.#owner.gid);
      return fileWriter(dirFd, temp, name, path, handle, finalMode);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      if (handle !== undefined) unlinkQuietly(dirFd, temp);
      closeQuietly(dirFd);
      throw translateFsError(error, path);
    }
  }

  /** Creates (or replaces, by rename) a symbolic link; its target is never resolved. */
  async symlink(path: string, target: string): Promise<void> {
    const parts = workspacePathParts(path);
    const name = parts.at(-1);
    if (name === undefined) throw notAFile(path);
    const dirFd = openDirAt(this.#root, parts.slice(0, -1), path, { owner: this.#owner });
    const temp = `${tempPrefix}${randomBytes(8).toString('hex')}`;
    try {
      symlinkSync(target, at(dirFd, temp));
      if (this.#owner !== undefined) lchownSync(at(dirFd, temp), this.#owner.uid, this.#owner.gid);
      renameSync(at(dirFd, temp), at(dirFd, name));
    } catch (error) {
      unlinkQuietly(dirFd, temp);
      throw translateFsError(error, path);
    } finally {
      closeQuietly(dirFd);
    }
  }

  /** A link's target, or null when `path` is no link (or gone). */
  readLink(path: string): string | null {
    const parts = workspacePathParts(path);
    const name = parts.at(-1);
    if (name === undefined) return null;
    let dirFd: number;
    try {
      dirFd = openDirAt(this.#root, parts.slice(0, -1), path);
    } catch {
      return null;
    }
    try {
      return readlinkSync(at(dirFd, name));
    } catch {
      return null;
    } finally {
      closeQuietly(dirFd);
    }
  }

  /** Sets the permission bits of a file or directory (a link is left alone). */
  chmod(path: string, mode: number): void {
    const parts = workspacePathParts(path);
    const dirFd = openDirAt(this.#root, parts.slice(0, -1), path);
    try {
      const fd = parts.length === 0 ? dirFd : openNoFollow(dirFd, parts.at(-1) as string, path);
      try {
        if (!statOf(fd).isSymbolicLink()) chmodSync(inode(fd), mode);
      } finally {
        if (fd !== dirFd) closeQuietly(fd);
      }
    } finally {
      closeQuietly(dirFd);
    }
  }

  /** What `parts` names, lstat'ed through confined parents; null when absent. */
  #lookup(parts: readonly string[], path: string): BigIntStats | null {
    let dirFd: number;
    try {
      dirFd = openDirAt(this.#root, parts.slice(0, -1), path);
    } catch (error) {
      if ((error as LongrunError).code === 'NOT_FOUND') return null;
      throw error;
    }
    try {
      const name = parts.at(-1);
      return name === undefined ? statOf(dirFd) : statOrNull(dirFd, name, path);
    } finally {
      closeQuietly(dirFd);
    }
  }

  /** The lstat'ed children of the directory at `dir`; a vanished directory has none. */
  #readDir(
    dir: readonly string[],
    path: string,
    isStart: boolean,
  ): { name: string | null; raw: Buffer; stat: BigIntStats | null }[] {
    let dirFd: number;
    try {
      dirFd = openDirAt(this.#root, dir, path);
    } catch (error) {
      // The starting directory must exist; one found during the walk may have gone since.
      if (isStart) throw error;
      return [];
    }
    try {
      const children: { name: string | null; raw: Buffer; stat: BigIntStats | null }[] = [];
      for (const raw of readdirSync(inode(dirFd), { encoding: 'buffer' })) {
        const decoded = raw.toString('utf8');
        if (!Buffer.from(decoded, 'utf8').equals(raw)) {
          children.push({ name: null, raw, stat: null });
          continue;
        }
        try {
          children.push({
            name: decoded,
            raw,
            stat: lstatSync(at(dirFd, decoded), { bigint: true }),
          });
        } catch {
          // Deleted since it was listed.
        }
      }
      return children;
    } catch (error) {
      throw translateFsError(error, path);
    } finally {
      closeQuietly(dirFd);
    }
  }
}

function entryOf(path: string, stat: BigIntStats): WorkspaceEntry {
  return {
    path,
    type: typeOf(stat),
    size: stat.isFile() ? Number(stat.size) : 0,
    mode: Number(stat.mode) & 0o7777,
    mtimeMs: Number(stat.mtimeMs),
  };
}

function statOrNull(dirFd: number, name: string, path: string): BigIntStats | null {
  try {
    return lstatSync(at(dirFd, name), { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw translateFsError(error, path);
  }
}

function notAFile(path: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', `${JSON.stringify(path)} is a directory, not a file`);
}
