import { ConfinedWorkspaceFiles } from '@longrun/workspace';

/**
 * Gives a workspace tree to a sandbox's host uid before any of its commands runs. Through the
 * workspace accessor: a link is given away itself and never followed (Node's recursive readdir
 * descends into linked directories, and lchown of a path through a link would chown whatever is
 * on the other side — a link to / planted by an earlier command would hand the host's files to
 * the sandbox).
 */
export function chownTree(dir: string, uid: number, gid: number): void {
  new ConfinedWorkspaceFiles(dir).chownAll({ uid, gid });
}
