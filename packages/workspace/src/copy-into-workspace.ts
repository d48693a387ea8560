import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { LongrunError, type WorkspaceFiles } from '@longrun/core';

/**
 * Copies a host directory into a workspace through its accessor: how an agent's
 * `prepareWorkspace` fills a new session's workspace (a repository, fixtures). The source is the
 * agent author's own directory and is read as it is; the destination is written like any tool
 * write (no link followed, files replaced by rename). Regular files keep their modes; a link or
 * special file in the source is refused (copy what it points to instead).
 */
export async function copyIntoWorkspace(
  hostDir: string,
  files: WorkspaceFiles,
  into = '',
): Promise<{ files: number; bytes: number }> {
  const copied = { files: 0, bytes: 0 };
  await files.mkdir(into === '' ? '.' : into);
  for (const entry of await readdir(hostDir, { withFileTypes: true })) {
    const source = join(hostDir, entry.name);
    const target = into === '' ? entry.name : posix.join(into, entry.name);
    if (entry.isDirectory()) {
      const inner = await copyIntoWorkspace(source, files, target);
      copied.files += inner.files;
      copied.bytes += inner.bytes;
    } else if (entry.isFile()) {
      const bytes = await readFile(source);
      await files.writeFile(target, bytes, { mode: (await stat(source)).mode & 0o7777 });
      copied.files += 1;
      copied.bytes += bytes.length;
    } else {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `${source} is not a regular file or directory; copyIntoWorkspace copies only those`,
      );
    }
  }
  return copied;
}
