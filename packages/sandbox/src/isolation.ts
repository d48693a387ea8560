import type { Protection, ProtectionName, ProtectionReport } from '@longrun/core';

/**
 * The protections without which a driver does not isolate at all: a command could reach the
 * host's processes, network, files or the worker's secrets. A driver missing any of them is not
 * used by default (agents that run commands then refuse to start unless the user opts into the
 * process driver by name). The rest — memory, pids and CPU limits and the workspace size cap —
 * contain resource abuse; without them a driver still isolates, and the start-up line says
 * which are missing (`strict` refuses those too).
 */
export const isolatingProtections: readonly ProtectionName[] = [
  'user-namespace',
  'pid-namespace',
  'net-namespace',
  'ipc-namespace',
  'network-off',
  'seccomp',
  'socket-families',
  'read-only-root',
  'empty-env',
  'no-inherited-fds',
  'tree-kill',
];

/** The isolating protections this report lacks (empty: the driver isolates). */
export function isolationGaps(report: ProtectionReport): Protection[] {
  return report.protections.filter((p) => !p.enforced && isolatingProtections.includes(p.name));
}
