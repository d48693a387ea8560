import { chmodSync, mkdirSync, realpathSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { LongrunError, type ProtectionReport, type SandboxSpec } from '@longrun/core';
import { rootArgs } from './bwrap-args.ts';
import { probeBwrapHost, type BwrapHost } from './bwrap-probe.ts';
import { bwrapReport } from './bwrap-report.ts';
import { BwrapSandbox } from './bwrap-sandbox.ts';
import { detectCgroups } from './cgroup-detect.ts';
import type { SandboxCgroup } from './cgroup.ts';
import { sweepLeftovers, type SweepResult } from './leftover-sweep.ts';
import type { PreparableDriver, PreparedSandbox } from './prepared-sandbox.ts';
import { newSandboxName, newSandboxUid } from './sandbox-names.ts';
import { refuseIfStrict } from './strict-check.ts';
import { validateSpec } from './validate-spec.ts';
import { mountCappedWorkspace } from './workspace-cap.ts';

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
  const prepare = async (): Promise<PreparedSandbox> => {
    if (host.tools === null) {
      throw new LongrunError(
        'SANDBOX_UNAVAILABLE',
        host.unusableReason ?? 'bubblewrap is unusable',
      );
    }
    return prepareSandbox(host, stateDir, report, roots);
  };
  return {
    kind: 'bwrap',
    swept,
    protections: async () => report,
    prepare,
    open: async (spec) => (await prepare()).open(spec),
  };
}

/** The identity-free part: a name, a host uid, an empty cgroup and a staging directory. */
function prepareSandbox(
  host: BwrapHost,
  stateDir: string | null,
  report: ProtectionReport,
  roots: Record<SandboxSpec['network'], string[]>,
): PreparedSandbox {
  const name = newSandboxName();
  const uid = host.isRoot ? newSandboxUid() : null;
  const cgroup = host.cgroups.system?.create(name) ?? null;
  const stagingDir = stateDir === null ? null : join(stateDir, name);
  if (stagingDir !== null) mkdirSync(stagingDir, { mode: 0o700 });
  let used = false;
  const discard = async (): Promise<void> => {
    await cgroup?.destroy();
    if (stagingDir !== null) rmdirSync(stagingDir);
  };
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
        return await bind(host, real, { name, uid, cgroup, stagingDir, roots });
      } catch (error) {
        await discard();
        throw error;
      }
    },
  };
}

interface Prepared {
  name: string;
  uid: number | null;
  cgroup: SandboxCgroup | null;
  stagingDir: string | null;
  roots: Record<SandboxSpec['network'], string[]>;
}

async function bind(host: BwrapHost, spec: SandboxSpec, p: Prepared): Promise<BwrapSandbox> {
  p.cgroup?.setLimits(spec.limits);
  const owner = p.uid === null ? null : { uid: p.uid, gid: p.uid };
  if (p.stagingDir !== null && owner !== null) {
    await mountCappedWorkspace({
      stagingDir: p.stagingDir,
      workspaceDir: spec.workspaceDir,
      bytes: spec.limits.workspaceBytes,
      ...owner,
    });
  }
  if (host.tools === null) throw new LongrunError('INTERNAL', 'bwrap tools vanished');
  return new BwrapSandbox({
    name: p.name,
    spec,
    tools: host.tools,
    features: host.features,
    rootArgs: p.roots[spec.network],
    seccomp: host.seccomp,
    owner,
    cgroup: p.cgroup,
    liveDir: p.stagingDir ?? spec.workspaceDir,
    stagingDir: p.stagingDir,
  });
}
