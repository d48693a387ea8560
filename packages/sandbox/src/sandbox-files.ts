import { LongrunError, type WorkspaceFiles } from '@longrun/core';
import { ConfinedWorkspaceFiles, type Owner } from '@longrun/workspace';

/**
 * A sandbox's `files`: the one workspace accessor on the directory its commands see, giving what
 * it writes to the sandbox's user, and refusing (INVALID_STATE) once the sandbox is closed —
 * after which that directory may be gone or another sandbox's.
 */
export function sandboxFiles(
  liveDir: string,
  owner: Owner | undefined,
  isOpen: () => boolean,
): WorkspaceFiles {
  const files = new ConfinedWorkspaceFiles(liveDir, owner === undefined ? {} : { owner });
  const open = (): ConfinedWorkspaceFiles => {
    if (!isOpen()) throw new LongrunError('INVALID_STATE', 'the sandbox is closed');
    return files;
  };
  return {
    stat: async (path) => open().stat(path),
    readFile: async (path, options) => open().readFile(path, options),
    writeFile: async (path, data, options) => open().writeFile(path, data, options),
    mkdir: async (path) => open().mkdir(path),
    remove: async (path) => open().remove(path),
    list: async (path, options) => open().list(path, options),
  };
}
