import { chownSync, lchownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Gives a workspace tree to a sandbox's host uid, links included (lchown: never their targets;
 * a recursive readdir does not descend into a linked directory). Called when a sandbox opens,
 * before any of its commands runs, so nothing races it.
 */
export function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    lchownSync(join(entry.parentPath, entry.name), uid, gid);
  }
}
