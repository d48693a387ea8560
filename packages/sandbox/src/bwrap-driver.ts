import { chmodSync, mkdirSync, realpathSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { LongrunError, type ProtectionReport, type SandboxSpec } from '@longrun/core';
import { rootArgs } from './bwrap-args.ts';
import { probeBwrapHost, type BwrapHost } from './bwrap-probe.ts';
import { bwrapReport } from './bwrap-report.ts';
import { startLauncher, type BwrapLauncher } from './bwrap-exec.ts';
import { BwrapSandbox, launchersWaiting } from './bwrap-sandbox.ts';
import { detectCgroups } from './cgroup-detect.ts';
import { sweepLeftovers, type SweepResult } from './leftover-sweep.ts';
import type { PreparableDriver, PreparedSandbox } from './prepared-sandbox.ts';
import { newSandboxName, newSandboxUid } from './sandbox-names.ts';
import { refuseIfStrict } from './strict-check.ts';
import { validateSpec } from './validate-spec.ts';
import { bindCap, fillCap, mountCap, resizeCap, unmountAll } from './workspace-cap.ts';

export interface BwrapDriverOptions {
  bwrapPath?: string;
  /** Where workspace caps are staged (root only). Default /run/longrun-sandbox. */
  stateDir?: string;
  /** The cgroup under which sandboxes get theirs, in each hierarchy. Default `longrun`. */
  cgroupParent?: string;
}

export interface BwrapDriver extends PreparableDriver {
  /** What the start-up sweep removed from dead workers. */
  readonly swept: SweepResult;
}

/**
 * The Linux driver: bubblewrap namespaces, a seccomp filter, cgroup limits, a capped workspace.
 * Creating it probes the machine once (the protections report is the result) and removes
 * sandboxes left by workers that died.
 */
export async function bwrapDriver(options: BwrapDriverOptions = {}): Promise<BwrapDriver> {
  const host = probeBwrapHost(
    options.bwrapPath ?? '/usr/bin/bwrap',
    detectCgroups(options.cgroupParent ?? 'longrun'),
  );
  const stateDir = host.isRoot ? (options.stateDir ?? '/run/longrun-sandbox') : null;
  if (stateDir !== null) {
    // 0711: sandbox uids must traverse it to reach their own staging mount, and list nothing.
    mkdirSync(stateDir, { recursive: true });
    chmodSync(stateDir, 0o711);
  }
  const swept = await sweepLeftovers(host.cgroups.system, stateDir);
  const report = bwrapReport(host);
  const roots = { none: rootArgs('none'), allowed: rootArgs('allowed') };
  const capBytes: { last: number | null } = { last: null };
  const prepare = async (warm: boolean): Promise<PreparedSandbox> => {
    if (host.tools === null) {
      throw new LongrunError(
        'SANDBOX_UNAVAILABLE',
        host.unusableReason ?? 'bubblewrap is unusable',
      );
    }
    return prepareSandbox(host, stateDir, report, roots, capBytes, warm);
  };
  return {
    kind: 'bwrap',
    swept,
    protections: async () => report,
    prepare: () => prepare(true),
    open: async (spec) => (await prepare(false)).open(spec),
  };
}

/**
 * The identity-free part: a name, a host uid, an empty cgroup with the first commands' launchers
 * waiting in it, a staging directory and, as root, the workspace cap mounted there empty, sized
 * like the last sandbox's (a claim of another size resizes it: one process more).
 */
async function prepareSandbox(
  host: BwrapHost,
  stateDir: string | null,
  report: ProtectionReport,
  roots: Record<SandboxSpec['network'], string[]>,
  capBytes: { last: number | null },
  warm: boolean,
): Promise<PreparedSandbox> {
  const name = newSandboxName();
  const owner = host.isRoot ? ownerFor(newSandboxUid()) : null;
  const cgroup = host.cgroups.system?.create(name) ?? null;
  const stagingDir = stateDir === null ? null : join(stateDir, name);
  if (stagingDir !== null) mkdirSync(stagingDir, { mode: 0o700 });
  const cap = stagingDir !== null && owner !== null ? { stagingDir, owner, bytes: 0 } : null;
  const launchers: BwrapLauncher[] = [];
  const discard = async (): Promise<void> => {
    await Promise.all(launchers.map((launcher) => launcher.discard()));
    await cgroup?.destroy();
    if (stagingDir === null) return;
    if (cap !== null && cap.bytes > 0) await unmountAll([stagingDir]);
    rmdirSync(stagingDir);
  };
  if (cap !== null && capBytes.last !== null) {
    await mountCap(cap.stagingDir, capBytes.last, cap.owner).catch(async (error: unknown) => {
      await discard();
      throw error;
    });
    cap.bytes = capBytes.last;
  }
  // Started last, after the cap's mount process: each start holds the event loop for a fork.
  const tools = host.tools;
  if (tools !== null && tools.bash !== null) {
    // None for a sandbox opened on demand: its first exec starts one. A start costs the open a
    // fork, and that exec would wait for the launcher's move into the cgroup either way.
    for (let i = 0; i < (warm ? launchersWaiting : 0); i += 1) {
      launchers.push(startLauncher({ tools, seccomp: host.seccomp, owner, cgroup }, null));
    }
  }
  // A warm sandbox (the pool's) is one whose launchers are in its cgroup, so that the first
  // exec after a claim never waits for a move (an RCU grace period, 10–45 ms here under load).
  if (warm) await Promise.all(launchers.map((launcher) => launcher.placed));
  let used = false;
  return {
    discard,
    open: async (spec) => {
      if (used) throw new LongrunError('INTERNAL', `prepared sandbox ${name} opened twice`);
      used = true;
      try {
        validateSpec(spec);
        refuseIfStrict(spec, report);
        // The cap is mounted over the real path: a symlinked or relative one must not dodge it.
        const real = { ...spec, workspaceDir: realpathSync(spec.workspaceDir) };
        cgroup?.setLimits(spec.limits);
        capBytes.last = spec.limits.workspaceBytes;
        const { bound } = cap === null ? { bound: Promise.resolve() } : await stage(cap, real);
        if (host.tools === null) throw new LongrunError('INTERNAL', 'bwrap tools vanished');
        return new BwrapSandbox({
          name,
          spec: real,
          tools: host.tools,
          features: host.features,
          rootArgs: roots[spec.network],
          seccomp: host.seccomp,
          owner,
          cgroup,
          launchers,
          liveDir: stagingDir ?? real.workspaceDir,
          stagingDir,
          bound,
        });
      } catch (error) {
        await discard();
        throw error;
      }
    },
  };
}

function ownerFor(uid: number): { uid: number; gid: number } {
  return { uid, gid: uid };
}

interface StagedCap {
  stagingDir: string;
  owner: { uid: number; gid: number };
  /** The size it is mounted with; 0 while unmounted. */
  bytes: number;
}

/**
 * Mounts (or resizes) the cap and copies the workspace in; returns the bind over the workspace
 * directory, not awaited: the sandbox's first command runs from the staging
 * directory meanwhile, and every call on the sandbox waits for it (see BwrapSandbox).
 */
async function stage(cap: StagedCap, spec: SandboxSpec): Promise<{ bound: Promise<void> }> {
  const bytes = spec.limits.workspaceBytes;
  if (cap.bytes === 0) await mountCap(cap.stagingDir, bytes, cap.owner);
  else if (cap.bytes !== bytes) await resizeCap(cap.stagingDir, bytes);
  cap.bytes = bytes;
  await fillCap(cap.stagingDir, spec.workspaceDir, bytes, cap.owner);
  // Spawning is synchronous (node forks itself): started on the next turn, mount's fork runs
  // while the first command's bubblewrap does, instead of before it.
  const bound = new Promise((resolve) => setImmediate(resolve)).then(() =>
    bindCap(cap.stagingDir, spec.workspaceDir),
  );
  // Awaited by every sandbox call and by close; this only keeps an unused failure quiet.
  bound.catch(() => undefined);
  return { bound };
}
