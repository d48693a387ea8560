import { lstat, mkdir, chmod } from 'node:fs/promises';
import { LongrunError } from '@longrun/core';
import { ancestorsOf } from './manifest-paths.ts';
import { isMissing } from './scan-workspace.ts';

/**
 * The directories of a workspace being restored. Before anything is written below a path, every
 * component of it is checked (lstat, never following) to be a real directory inside the root, and
 * created if absent: no write can pass through a symlink, whatever the manifest or the old
 * contents of the directory held. Created directories start owner-writable; restore sets the
 * manifest's modes last, deepest first.
 */
export class RestoreTree {
  readonly root: string;
  readonly #checked = new Set<string>(['']);

  constructor(root: string) {
    this.root = root;
  }

  absolute(path: string): string {
    return path === '' ? this.root : `${this.root}/${path}`;
  }

  /** Makes `path` (relative; '' is the root) and its ancestors real, writable directories. */
  async ensureDir(path: string): Promise<void> {
    if (this.#checked.has(path)) return;
    for (const dir of [...ancestorsOf(path), path]) {
      if (this.#checked.has(dir)) continue;
      await this.#ensureOne(dir);
      this.#checked.add(dir);
    }
  }

  async #ensureOne(dir: string): Promise<void> {
    const absolute = this.absolute(dir);
    try {
      const stat = await lstat(absolute);
      if (!stat.isDirectory()) {
        throw new LongrunError(
          'WORKSPACE_CORRUPT',
          `refusing to restore below ${JSON.stringify(dir)} in ${this.root}: it is not a real directory (a symlink or file appeared there during the restore); restore again`,
        );
      }
      if ((stat.mode & 0o700) !== 0o700) await chmod(absolute, (stat.mode & 0o7777) | 0o700);
    } catch (error) {
      if (!isMissing(error)) throw error;
      try {
        await mkdir(absolute, { mode: 0o700 });
      } catch (raced) {
        // Another file of this restore created it first: check what is there now.
        if ((raced as { code?: unknown }).code !== 'EEXIST') throw raced;
        await this.#ensureOne(dir);
      }
    }
  }
}
