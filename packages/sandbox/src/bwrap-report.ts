import { protectionNames, type ProtectionName, type ProtectionReport } from '@longrun/core';
import type { BwrapHost } from './bwrap-probe.ts';
import type { Controller } from './cgroup.ts';
import { devShmMaxBytes } from './bwrap-args.ts';
import { seccompSummary, socketFamiliesSummary } from './seccomp-filter.ts';

type Verdict = [enforced: boolean, reason: string];

/** The bubblewrap driver's honest account of what it enforces on this machine, and why not. */
export function bwrapReport(host: BwrapHost): ProtectionReport {
  const verdicts = host.unusableReason === null ? verdictsFor(host) : null;
  return {
    driver: 'bwrap',
    protections: protectionNames.map((name) => {
      const [enforced, reason] = verdicts?.[name] ?? [false, host.unusableReason ?? ''];
      return { name, enforced, reason };
    }),
  };
}

function verdictsFor(host: BwrapHost): Record<ProtectionName, Verdict> {
  const uid = host.isRoot
    ? 'each sandbox runs as its own unprivileged host uid'
    : `runs as the worker's uid ${process.getuid?.()} (root would give each sandbox its own)`;
  const tools = host.tools;
  return {
    'user-namespace': [
      true,
      `--unshare-user${host.features.disableUserns ? ' --disable-userns' : ''}; ${uid}`,
    ],
    'pid-namespace': [true, '--unshare-pid: sees only its own processes'],
    'net-namespace': [true, "--unshare-net unless the spec's network is 'allowed'"],
    'ipc-namespace': [true, '--unshare-ipc'],
    'uts-namespace': [true, '--unshare-uts (hostname "sandbox")'],
    'network-off': [
      true,
      "only a private loopback when network is 'none' ('allowed' shares the host's network, loopback included)",
    ],
    seccomp: host.seccomp !== null ? [true, seccompSummary()] : [false, host.seccompReason],
    'socket-families':
      host.seccomp !== null
        ? [true, socketFamiliesSummary()]
        : [false, `needs the seccomp filter (${host.seccompReason}): every socket family is open`],
    'memory-limit': limit(host, 'memory', 'memory limit, swap included'),
    'pids-limit': limit(host, 'pids', 'pids.max'),
    'cpu-limit': limit(host, 'cpu', 'cpu quota'),
    'read-only-root': [true, readOnlyRoot(host)],
    'workspace-size-cap': host.isRoot
      ? [
          true,
          'size- and inode-capped tmpfs over the workspace directory (its pages also count against memoryBytes)',
        ]
      : [false, 'mounting the capped tmpfs needs root; the workspace is bound as it is'],
    'empty-env': [
      true,
      'bubblewrap starts with an empty environment; the command gets only the spec env',
    ],
    'no-inherited-fds':
      tools?.bash !== null
        ? [
            true,
            "descriptors the worker inherited are closed before bubblewrap starts; bubblewrap's own are closed on exec",
          ]
        : [
            false,
            '/bin/bash is missing: inherited descriptors numbered 10 and above cannot be closed',
          ],
    'tree-kill': treeKill(host),
  };
}

function readOnlyRoot(host: BwrapHost): string {
  const caps = host.features.tmpfsSize
    ? `/tmp capped at the workspace size, /dev/shm at the smaller of that and ${devShmMaxBytes >> 20} MiB; their pages also count against memoryBytes`
    : 'this bubblewrap has no --size: /tmp and /dev/shm are capped by the memory limit only';
  return `bubblewrap's root and /dev are remounted read-only; writable are /workspace, /tmp and /dev/shm (${caps})`;
}

function limit(host: BwrapHost, controller: Controller, what: string): Verdict {
  const { system } = host.cgroups;
  if (system === null) return [false, host.cgroups.reason];
  if (!system.controllers.has(controller)) {
    return [
      false,
      `the ${controller} controller is not available to longrun (cgroup ${system.version})`,
    ];
  }
  return [true, `cgroup ${system.version} ${what}`];
}

function treeKill(host: BwrapHost): Verdict {
  if (host.tools?.setpriv === null && !host.features.diesWithParent) {
    return [
      false,
      'setpriv (util-linux) is missing: a kill -9 of the worker would leave sandboxes running',
    ];
  }
  const cgroup = host.cgroups.system === null ? '' : ' and its cgroup is emptied';
  return [
    true,
    `the pid namespace dies with its init${cgroup} on timeout, cancel and close; the worker's death kills bubblewrap (${host.features.diesWithParent ? 'its own' : 'setpriv'} parent-death signal) and so the sandbox (--die-with-parent)`,
  ];
}
