import { LongrunError, type WorkspaceFiles } from '@longrun/core';
import { ConfinedWorkspaceFiles, type Owner } from '@longrun/workspace';

/**
 * A sandbox's `files`: the one workspace accessor on the directory its commands see, giving what
 * it writes to the sandbox's user, and refusing (INVALID_STATE) once the sandbox is closed —
 * after which that directory may be gone or another sandbox's. Each call first waits for
 * `ready` (the sandbox's workspace set up), and fails with it.
 */
export function sandboxFiles(
  liveDir: string,
  owner: Owner | undefined,
  state: { isOpen: () => boolean; ready?: Promise<void> },
): WorkspaceFiles {
  const files = new ConfinedWorkspaceFiles(liveDir, owner === undefined ? {} : { owner });
  const open = async (): Promise<ConfinedWorkspaceFiles> => {
    await state.ready;
    if (!state.isOpen()) throw new LongrunError('INVALID_STATE', 'the sandbox is closed');
    return files;
  };
  return {
    stat: async (path) => (await open()).stat(path),
    readFile: async (path, options) => (await open()).readFile(path, options),
    writeFile: async (path, data, options) => (await open()).writeFile(path, data, options),
    mkdir: async (path) => (await open()).mkdir(path),
    remove: async (path) => (await open()).remove(path),
    list: async (path, options) => (await open()).list(path, options),
  };
}
