import { realpath, stat } from 'node:fs/promises';
import { LongrunError } from '@longrun/core';

/** The real path of an existing workspace directory, or INVALID_ARGUMENT saying what is wrong. */
export async function workspaceRoot(dir: string): Promise<string> {
  try {
    const root = await realpath(dir);
    if ((await stat(root)).isDirectory()) return root;
  } catch (cause) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `workspace ${dir} cannot be opened: pass an existing directory`,
      {
        cause,
      },
    );
  }
  throw new LongrunError(
    'INVALID_ARGUMENT',
    `workspace ${dir} is not a directory: pass a directory`,
  );
}
