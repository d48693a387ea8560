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
 * Design: at open, a tmpfs with `size=` and `nr_inodes=` (the cap, in bytes and in files) is
 * mounted at a staging directory, the workspace is copied in and handed to the sandbox user, and
 * the tmpfs is bind-mounted over the workspace directory, so every host reader of that path sees
 * the live, capped content. At close the bind is removed and the content copied back into the
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

export interface CapOptions {
  stagingDir: string;
  workspaceDir: string;
  bytes: number;
  uid: number;
  gid: number;
}

// Only mount, umount and cp are processes (Node has no mount(2)); the rest is done here, since
// each process costs milliseconds and open/close are on every sandbox's path.
export async function mountCappedWorkspace(o: CapOptions): Promise<void> {
  const inodes = Math.max(1024, Math.floor(o.bytes / bytesPerInode));
  const options = `size=${o.bytes},nr_inodes=${inodes},mode=0700,uid=${o.uid},gid=${o.gid},nosuid,nodev`;
  await host('mount the capped workspace', 'mount', [
    '-t',
    'tmpfs',
    '-o',
    options,
    capSourceName,
    o.stagingDir,
  ]);
  try {
    if (readdirSync(o.workspaceDir).length > 0) {
      try {
        await run('cp', ['-a', `${o.workspaceDir}/.`, `${o.stagingDir}/`], { env: hostEnv });
      } catch (error) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `workspace ${o.workspaceDir} does not fit in limits.workspaceBytes (${o.bytes}): ${String((error as { stderr?: string }).stderr).trim()}; raise the cap or make the workspace smaller`,
        );
      }
      chownTree(o.stagingDir, o.uid, o.gid);
      chmodSync(o.stagingDir, 0o700);
    }
    await host('bind the capped workspace', 'mount', ['--bind', o.stagingDir, o.workspaceDir]);
  } catch (error) {
    await unmount(o.stagingDir);
    throw error;
  }
}

/**
 * Unmounts the cap and writes its content back into the workspace directory: into a sibling
 * first, renamed over the directory, so that a crash leaves the old or the new copy whole.
 */
export async function releaseCappedWorkspace(
  stagingDir: string,
  workspaceDir: string,
): Promise<void> {
  await unmount(workspaceDir);
  const fresh = `${workspaceDir}.longrun-new`;
  const old = `${workspaceDir}.longrun-old`;
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  mkdirSync(fresh);
  if (readdirSync(stagingDir).length > 0) {
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
  await unmount(stagingDir);
}

/** umount, lazily if something on the host still holds it open. */
async function unmount(path: string): Promise<void> {
  try {
    await run('umount', [path], { env: hostEnv });
  } catch {
    await host(`unmount ${path}`, 'umount', ['-l', path]);
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
  const found: CapMount[] = [];
  for (const points of byDevice.values()) {
    const stagingDir = points.find((p) => p.startsWith(`${stateDir}/`));
    if (stagingDir === undefined) continue;
    found.push({ stagingDir, workspaceDir: points.find((p) => p !== stagingDir) ?? null });
  }
  return found;
}
