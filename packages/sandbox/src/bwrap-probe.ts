import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BwrapFeatures } from './bwrap-args.ts';
import { rootArgs } from './bwrap-args.ts';
import type { HostTools } from './bwrap-launch.ts';
import type { CgroupDetection } from './cgroup-detect.ts';
import { buildSeccompFilter, seccompSupported } from './seccomp-filter.ts';

/** What this machine lets the bubblewrap driver do, found out once when the driver starts. */
export interface BwrapHost {
  tools: HostTools | null;
  /** Why bubblewrap cannot run here at all (missing, or user namespaces refused). */
  unusableReason: string | null;
  features: BwrapFeatures;
  /** The seccomp filter bytes, or null with `seccompReason`. */
  seccomp: Uint8Array | null;
  seccompReason: string;
  /** Root can give each sandbox its own host uid and mount the workspace cap. */
  isRoot: boolean;
  cgroups: CgroupDetection;
}

export function probeBwrapHost(bwrapPath: string, cgroups: CgroupDetection): BwrapHost {
  const isRoot = process.getuid?.() === 0;
  const features: BwrapFeatures = {
    disableUserns: false,
    tmpfsSize: false,
    diesWithParent: false,
  };
  const base = { features, isRoot, cgroups, seccomp: null, seccompReason: '' };
  if (!executable(bwrapPath)) {
    const reason = `${bwrapPath} not found: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)`;
    return { ...base, tools: null, unusableReason: reason, seccompReason: reason };
  }
  const help = spawnSync(bwrapPath, ['--help'], { env: {}, encoding: 'utf8' }).stdout ?? '';
  features.disableUserns = help.includes('--disable-userns');
  features.tmpfsSize = help.includes('--size');
  // Checked on 0.8 (the release that added --disable-userns); older ones get setpriv.
  features.diesWithParent = features.disableUserns;
  const tools: HostTools = {
    bwrap: bwrapPath,
    setpriv: !features.diesWithParent && executable('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null,
    bash: readsCommandFields('/bin/bash') ? '/bin/bash' : null,
  };
  let seccomp: Uint8Array | null = null;
  let seccompReason = `no syscall table for ${process.arch} (have x64 and arm64)`;
  if (seccompSupported()) {
    seccomp = buildSeccompFilter();
    seccompReason = '';
  }
  const failure = trialRun(bwrapPath, seccomp);
  if (failure !== null && seccomp !== null && trialRun(bwrapPath, null) === null) {
    seccompReason = `bubblewrap refused the filter: ${failure}`;
    seccomp = null;
  } else if (failure !== null) {
    const reason = `bubblewrap cannot create its namespaces here: ${failure}`;
    return { ...base, tools: null, unusableReason: reason, seccompReason: reason };
  }
  return { ...base, tools, unusableReason: null, seccomp, seccompReason };
}

/** Runs /usr/bin/true in a minimal sandbox; null when it worked, else bubblewrap's complaint. */
function trialRun(bwrapPath: string, seccomp: Uint8Array | null): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-probe-'));
  const filterPath = join(dir, 'filter');
  writeFileSync(filterPath, seccomp ?? new Uint8Array());
  const filterFd = openSync(filterPath, 'r');
  try {
    const args = ['--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc'];
    args.push('--unshare-uts', ...rootArgs('none'), '--proc', '/proc', '--dev', '/dev');
    if (seccomp !== null) args.push('--seccomp', '3');
    const result = spawnSync(bwrapPath, [...args, '--', '/usr/bin/true'], {
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', filterFd],
      encoding: 'utf8',
      timeout: 10_000,
      ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
    });
    if (result.status === 0) return null;
    return (result.stderr || result.error?.message || `exit ${result.status}`).trim();
  } finally {
    closeSync(filterFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** bash ≥ 4.4 (`mapfile -d`, which the waiting launcher reads its command with). */
function readsCommandFields(bash: string): boolean {
  if (!executable(bash)) return false;
  const check = '(( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 ))';
  return spawnSync(bash, ['-c', check], { env: {}, stdio: 'ignore', timeout: 10_000 }).status === 0;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
