import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { sandboxWorkspacePath, type SandboxNetwork } from '@longrun/core';

/**
 * bubblewrap's command line for one command. The root is minimal and read-only: /usr and the
 * top-level /bin, /lib… entries (symlinks on merged-/usr systems), a few /etc files the dynamic
 * linker and common tools need, a fresh /proc for the new pid namespace, a minimal /dev. Nothing
 * else of the host exists. Writable are only the workspace at /workspace (capped by the driver),
 * /tmp and /dev/shm, each a size-capped tmpfs.
 *
 * bubblewrap builds the root, and /dev, on tmpfs mounts owned by the sandbox's uid: left as they
 * are, a command could write there without any cap. Both are remounted read-only once every
 * mount point exists. Device nodes stay usable (a read-only mount does not stop writes to
 * /dev/null), /dev/pts is a mount of its own, and /dev/shm gets a capped tmpfs because POSIX
 * semaphores and shared memory (Python's multiprocessing locks) live there.
 */

/** Descriptors the driver passes to bubblewrap (3–4 of the child's stdio array). */
export const seccompFd = 3;
/**
 * The options (mounts, env) travel through a pipe (`--args 4`), not the command line, which `ps`
 * on the host shows; bubblewrap insists that the command itself stays on its argv. bubblewrap
 * reads this pipe to its end before it does anything else: the driver's gate (bwrap-exec.ts).
 */
export const argsFd = 4;

const topLevel = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const etcAlways = [
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'localtime',
  'nsswitch.conf',
  'hosts',
];
/** Only with network: name resolution and TLS roots. */
const etcNetwork = ['resolv.conf', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'gai.conf'];

/** Docker's default /dev/shm size; smaller when the /tmp cap (tmpBytes) is. */
export const devShmMaxBytes = 64 << 20;

export interface BwrapFeatures {
  /** bubblewrap ≥ 0.8: `--disable-userns` turns off user namespaces inside the sandbox. */
  disableUserns: boolean;
  /** `--size` caps the next `--tmpfs`. */
  tmpfsSize: boolean;
  /**
   * `--die-with-parent` also gives bubblewrap itself a parent-death signal (not only its
   * sandbox), so a worker's death takes the whole sandbox down without setpriv.
   */
  diesWithParent: boolean;
}

/** Mount arguments for the host's root layout, computed once per driver. */
export function rootArgs(network: SandboxNetwork): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const path of topLevel) {
    const stat = lstatOrNull(path);
    if (stat?.isSymbolicLink() === true) args.push('--symlink', readlinkSync(path), path);
    else if (stat?.isDirectory() === true) args.push('--ro-bind', path, path);
  }
  const etc = network === 'allowed' ? [...etcAlways, ...etcNetwork] : etcAlways;
  for (const name of etc) {
    const path = `/etc/${name}`;
    if (existsSync(path)) args.push('--ro-bind', path, path);
  }
  return args;
}

export interface CommandArgs {
  rootArgs: readonly string[];
  features: BwrapFeatures;
  /** Host directory bound read-write at /workspace. */
  workspaceSource: string;
  network: SandboxNetwork;
  /** The cap of /tmp, and of /dev/shm up to devShmMaxBytes. */
  tmpBytes: number;
  /** Relative to the workspace, already confined. */
  cwdComponents: readonly string[];
  /**
   * Workspace directories (relative, checked: real directories, no link on the way) bound
   * writable over a read-only workspace. Absent: the whole workspace is writable.
   */
  writableDirs?: readonly string[];
  env: Readonly<Record<string, string>>;
}

/** bubblewrap's options (everything before `--`; the command itself follows on its argv). */
export function commandArgs(c: CommandArgs): string[] {
  const args = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts'];
  args.push('--unshare-cgroup-try');
  if (c.network === 'none') args.push('--unshare-net');
  if (c.features.disableUserns) args.push('--disable-userns');
  args.push('--die-with-parent', '--new-session', '--hostname', 'sandbox');
  args.push(...c.rootArgs, '--proc', '/proc', '--dev', '/dev');
  args.push(...cappedTmpfs(c, Math.min(c.tmpBytes, devShmMaxBytes), '/dev/shm'));
  args.push(...cappedTmpfs(c, c.tmpBytes, '/tmp'));
  if (c.writableDirs === undefined) args.push('--bind', c.workspaceSource, sandboxWorkspacePath);
  else {
    args.push('--ro-bind', c.workspaceSource, sandboxWorkspacePath);
    for (const dir of c.writableDirs)
      args.push(
        '--bind',
        posix.join(c.workspaceSource, dir),
        posix.join(sandboxWorkspacePath, dir),
      );
  }
  // Last of the mounts: each remount covers that mount only, not the ones on top of it.
  args.push('--remount-ro', '/dev', '--remount-ro', '/');
  args.push('--chdir', posix.join(sandboxWorkspacePath, ...c.cwdComponents));
  args.push('--seccomp', String(seccompFd));
  // The command's env is set by bubblewrap right before exec: bubblewrap itself (and the
  // sandbox's pid 1, whose /proc/1/environ the command can read) runs with an empty one.
  for (const [name, value] of Object.entries(c.env)) args.push('--setenv', name, value);
  return args;
}

/**
 * A tmpfs capped at `bytes` where bubblewrap can (`--size`). Its pages are also charged to the
 * sandbox's memory cgroup, so memoryBytes bounds all of them together; the cap makes a full
 * disk an ENOSPC for the command rather than an OOM kill.
 */
function cappedTmpfs(c: CommandArgs, bytes: number, path: string): string[] {
  return c.features.tmpfsSize ? ['--size', String(bytes), '--tmpfs', path] : ['--tmpfs', path];
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
