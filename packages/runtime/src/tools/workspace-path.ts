import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { LongrunError } from '@longrun/core';

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return (
    rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..'))
  );
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
function realish(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    return resolve(realish(parent), path.slice(parent.length + 1));
  }
}

/**
 * Resolves a path the model gave against the session's workspace and refuses any that lands
 * outside it — through `..`, an absolute path, or a symlink planted to point out.
 */
export function workspacePath(workspaceDir: string, path: string): string {
  if (typeof path !== 'string' || path.includes('\0')) {
    throw new LongrunError('INVALID_ARGUMENT', 'a path must be a string without NUL bytes');
  }
  const root = realpathSync(workspaceDir);
  const target = resolve(root, path);
  if (!inside(root, target) || !inside(root, realish(target))) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `path ${JSON.stringify(path)} is outside the workspace; use a path relative to it`,
    );
  }
  return target;
}
