import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { terminalStatuses, type SessionId, type SessionStore } from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';

/** The directories the agents' sessions get their workspaces in (`<workspaceRoot>/<session id>`). */
export function workspaceRoots(agents: Iterable<AgentDefinition>): string[] {
  return [...new Set([...agents].map((a) => resolve(a.workspaceRoot ?? '.longrun/workspaces')))];
}

/**
 * Removes the workspace directories of finished sessions (completed, failed, cancelled) under
 * `roots`: those a run left behind because its worker died between the session's end and the
 * removal (`removeFinishedWorkspaces`). A directory is left when its session is unknown to this
 * store (another store's), is not finished, or is running here. Returns the directories removed;
 * one that cannot be removed is told to `warn` and left.
 */
export async function removeFinishedWorkspaces(
  store: SessionStore,
  roots: readonly string[],
  runningHere: (sessionId: string) => boolean,
  warn: (message: string) => void,
): Promise<string[]> {
  const removed: string[] = [];
  for (const root of roots) {
    const names = await readdir(root).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith('ses_') || runningHere(name)) continue;
      const session = await store.getSession(name as SessionId).catch(() => null);
      if (session === null || !terminalStatuses.some((s) => s === session.status)) continue;
      const dir = join(root, name);
      try {
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        removed.push(dir);
      } catch (error) {
        warn(
          `could not remove the finished session's workspace ${dir}: ${(error as Error).message}`,
        );
      }
    }
  }
  return removed;
}
