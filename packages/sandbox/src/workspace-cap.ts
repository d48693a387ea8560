import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { LongrunError } from '@longrun/core';
import { chownTree } from './chown-tree.ts';

const run = promisify(execFile);

/**
 * The workspace size cap. The workspace stays a real host directory (the snapshotter reads it,
 * and it outlives the sandbox), so the cap cannot be a tmpfs that lives only inside bubblewrap.
 * Design: a tmpfs with `size=` and `nr_inodes=` (the cap, in bytes and in files) is mounted at a
 * staging directory (by a pool, ahead of the claim), at open the workspace is copied in and
 * handed to the sandbox user, and the tmpfs is bind-mounted over the workspace directory, so
 * every host reader of that path sees the live, capped content (the driver lets that bind finish
 * while the first command starts: see BwrapSandbox). At close the bind is removed and the content copied back into the
 * real directory (into a sibling, then renamed over it, so a crash leaves the old or the new
 * copy, never half of one). A tmpfs is RAM: pages a sandbox writes are charged to its memory
 * cgroup, so the workspace also counts against `memoryBytes` (see the report).
 *
 * Needs root (mount). The tmpfs source is named `longrun-ws`, so that a restarted driver finds
 * the mounts of a dead worker in /proc/self/mountinfo and releases them.
 */
export const capSourceName = 'longrun-ws';
const bytesPerInode = 16 * 1024;
const hostEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

export interface CapOwner {
  uid: number;
  gid: number;
}

// Only mount, umount and cp are processes (Node has no mount(2)); the rest is done here, since
// each process costs milliseconds and open/close are on every sandbox's path.

/** Mounts an empty cap of `bytes` at `stagingDir`, owned by the sandbox's user. */
export async function mountCap(stagingDir: string, bytes: number, owner: CapOwner): Promise<void> {
  const options = `${capSize(bytes)},mode=0700,uid=${owner.uid},gid=${owner.gid},nosuid,nodev`;
  await host('mount the capped workspace', 'mount', [
    '-t',
    'tmpfs',
    '-o',
    options,
    capSourceName,
    stagingDir,
  ]);
}

/** Changes the size of a mounted cap that is still empty (one a pool staged ahead of a claim). */
export async function resizeCap(stagingDir: string, bytes: number): Promise<void> {
  await host('resize the capped workspace', 'mount', [
    '-o',
    `remount,${capSize(bytes)}`,
    stagingDir,
  ]);
}

function capSize(bytes: number): string {
  return `size=${bytes},nr_inodes=${Math.max(1024, Math.floor(bytes / bytesPerInode))}`;
}

/** Copies the workspace into its mounted cap and gives the copy to the sandbox's user. */
export async function fillCap(
  stagingDir: string,
  workspaceDir: string,
  bytes: number,
  owner: CapOwner,
): Promise<void> {
  if (readdirSync(workspaceDir).length === 0) return;
  try {
    await run('cp', ['-a', `${workspaceDir}/.`, `${stagingDir}/`], { env: hostEnv });
  } catch (error) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `workspace ${workspaceDir} does not fit in limits.workspaceBytes (${bytes}): ${String((error as { stderr?: string }).stderr).trim()}; raise the cap or make the workspace smaller`,
    );
  }
  chownTree(stagingDir, owner.uid, owner.gid);
  chmodSync(stagingDir, 0o700);
}

/** Binds the cap over the workspace directory, so host readers of that path see its content. */
export async function bindCap(stagingDir: string, workspaceDir: string): Promise<void> {
  await host('bind the capped workspace', 'mount', ['--bind', stagingDir, workspaceDir]);
}

/**
 * Unmounts the cap and writes its content back into the workspace directory: into a sibling
 * first, renamed over the directory, so that a crash leaves the old or the new copy whole.
 */
export async function releaseCappedWorkspace(
  stagingDir: string,
  workspaceDir: string,
  options: { bound: boolean } = { bound: true },
): Promise<void> {
  // An empty cap has nothing to copy back: both mounts go in one process. A crash before the
  // rename then leaves the old copy whole.
  const empty = readdirSync(stagingDir).length === 0;
  const bound = options.bound ? [workspaceDir] : [];
  await unmountAll(empty ? [...bound, stagingDir] : bound);
  await releaseDeadCaps(workspaceDir, stagingDir);
  const fresh = `${workspaceDir}.longrun-new`;
  const old = `${workspaceDir}.longrun-old`;
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  mkdirSync(fresh);
  if (!empty) {
    await host('copy the workspace back', 'cp', [
      '-a',
      '--no-preserve=ownership',
      `${stagingDir}/.`,
      `${fresh}/`,
    ]);
  }
  const { mode, uid, gid } = statSync(workspaceDir);
  chmodSync(fresh, mode & 0o7777);
  chownSync(fresh, uid, gid);
  renameSync(workspaceDir, old);
  renameSync(fresh, workspaceDir);
  rmSync(old, { recursive: true, force: true });
  if (!empty) await unmountAll([stagingDir]);
}

/**
 * Unmounts the caps other than `ours` still bound over `workspaceDir`, and their staging mounts:
 * a worker that died with the session's sandbox open left them, and this worker, holding the
 * session now, bound its own cap on top. Left there, the directory stays a mount point (renaming
 * it over its copy fails with EBUSY) and the dead cap's memory is never given back.
 */
async function releaseDeadCaps(workspaceDir: string, ours: string): Promise<void> {
  for (let round = 0; round < 8; round++) {
    const left = [...capMounts().values()].filter(
      (points) => points.includes(workspaceDir) && !points.includes(ours),
    );
    if (left.length === 0) return;
    // The bind over the directory first (the top of the stack), then its tmpfs.
    for (const points of left) {
      await host("unmount a dead worker's capped workspace", 'umount', ['-l', workspaceDir]);
      const staging = points.filter((p) => p !== workspaceDir);
      if (staging.length > 0) await unmountAll(staging);
    }
  }
}

/** umount, in one process; lazily what something on the host still holds open. */
export async function unmountAll(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  try {
    await run('umount', [...paths], { env: hostEnv });
  } catch {
    const mounted = new Set([...capMounts().values()].flat());
    const left = paths.filter((path) => mounted.has(path));
    if (left.length > 0) await host(`unmount ${left.join(', ')}`, 'umount', ['-l', ...left]);
  }
}

async function host(what: string, command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { env: hostEnv });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new LongrunError('SANDBOX_UNAVAILABLE', `cannot ${what}: ${stderr}`, { cause: error });
  }
}

export interface CapMount {
  stagingDir: string;
  /** Where it is bind-mounted over a workspace, if it is. */
  workspaceDir: string | null;
}

/** The cap mounts whose staging directory is under `stateDir` (live or left by a dead worker). */
export function listCapMounts(stateDir: string): CapMount[] {
  const found: CapMount[] = [];
  for (const points of capMounts().values()) {
    const stagingDir = points.find((p) => p.startsWith(`${stateDir}/`));
    if (stagingDir === undefined) continue;
    found.push({ stagingDir, workspaceDir: points.find((p) => p !== stagingDir) ?? null });
  }
  return found;
}

/** Mount points of cap tmpfs mounts in this mount namespace, by device. */
function capMounts(): Map<string, string[]> {
  const byDevice = new Map<string, string[]>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    const fields = before?.split(' ') ?? [];
    const [fsType, source] = after?.split(' ') ?? [];
    const device = fields[2];
    const mountPoint = fields[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (fsType !== 'tmpfs' || source !== capSourceName || !device || !mountPoint) continue;
    byDevice.set(device, [...(byDevice.get(device) ?? []), mountPoint]);
  }
  return byDevice;
}
