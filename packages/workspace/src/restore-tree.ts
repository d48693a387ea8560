import type { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';

/**
 * The directories of a workspace being restored, made through the accessor: every component of a
 * path is a real directory inside the root (made if absent; a link or file in the way is
 * FILE_TYPE_REFUSED), so no write can pass through a link, whatever the manifest or the old
 * contents held. Each directory is made owner-writable once; restore sets the manifest's modes
 * last, deepest first.
 */
export class RestoreTree {
  readonly files: ConfinedWorkspaceFiles;
  readonly #ready = new Set<string>(['']);

  constructor(files: ConfinedWorkspaceFiles) {
    this.files = files;
  }

  /** Makes `path` (relative; '' is the root) and its ancestors real, writable directories. */
  async ensureDir(path: string): Promise<void> {
    if (this.#ready.has(path)) return;
    await this.files.mkdir(path);
    const stat = await this.files.stat(path);
    if (stat !== null && (stat.mode & 0o700) !== 0o700) this.files.chmod(path, stat.mode | 0o700);
    this.#ready.add(path);
  }
}
