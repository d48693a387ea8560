import { execFileSync } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupSystem } from './cgroup.ts';
import { isSandboxName, ownerAlive } from './sandbox-names.ts';
import { listCapMounts, releaseCappedWorkspace } from './workspace-cap.ts';

export interface SweepResult {
  cgroups: number;
  mounts: number;
}

/**
 * Removes what sandboxes of dead workers left behind: their cgroups (and every process still in
 * them), their workspace caps (content written back into the workspace first) and staging
 * directories. Resources of live workers, and names that are not longrun's, are left alone.
 */
export async function sweepLeftovers(
  cgroups: CgroupSystem | null,
  stateDir: string | null,
): Promise<SweepResult> {
  const result: SweepResult = { cgroups: 0, mounts: 0 };
  for (const name of cgroups?.list() ?? []) {
    if (!isSandboxName(name) || ownerAlive(name)) continue;
    await cgroups?.open(name).destroy();
    result.cgroups += 1;
  }
  if (stateDir === null) return result;
  for (const mount of listCapMounts(stateDir)) {
    const name = mount.stagingDir.slice(stateDir.length + 1);
    if (!isSandboxName(name) || ownerAlive(name)) continue;
    if (mount.workspaceDir !== null)
      await releaseCappedWorkspace(mount.stagingDir, mount.workspaceDir);
    else execFileSync('umount', ['-l', mount.stagingDir], { env: { PATH: '/usr/bin:/bin' } });
    result.mounts += 1;
  }
  for (const name of safeReaddir(stateDir)) {
    if (isSandboxName(name) && !ownerAlive(name)) rmdirQuietly(join(stateDir, name));
  }
  return result;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Still mounted or not empty: the next sweep tries again.
  }
}
