import { readFileSync, readlinkSync } from 'node:fs';

/**
 * Who a worker process is, in a form another process on the same host can check: the host (its
 * boot id and pid namespace, so that a container's pid 1 is not mistaken for the host's), the
 * pid, and the process's start time in clock ticks since boot (so that a reused pid is not
 * mistaken for the same process). Linux only; elsewhere there is no identity and a dead worker
 * is known only when its liveness lapses.
 */
export interface ProcessIdentity {
  hostId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat, as text (it can exceed 2^53 in theory). */
  startedTicks: string;
}

let cached: ProcessIdentity | null | undefined;

export function ownIdentity(): ProcessIdentity | null {
  if (cached !== undefined) return cached;
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    const startedTicks = startTicksOf(process.pid);
    cached =
      startedTicks === null
        ? null
        : { hostId: `${bootId}/${pidNamespace}`, pid: process.pid, startedTicks };
  } catch {
    cached = null;
  }
  return cached;
}

/**
 * True when the process `pid` that started at `startedTicks` no longer runs on this host: its
 * /proc entry is gone, belongs to a newer process, or is a zombie (it has exited; the kernel
 * has already signalled the children it asked to outlive it by no more than a moment).
 */
export function processIsGone(pid: number, startedTicks: string): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const fields = fieldsAfterName(stat);
  return fields[0] === 'Z' || fields[0] === 'X' || fields[19] !== startedTicks;
}

function startTicksOf(pid: number): string | null {
  const fields = fieldsAfterName(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return fields[19] ?? null;
}

/** The fields after `pid (comm)`: the name may hold spaces and parentheses, so cut at the last `)`. */
function fieldsAfterName(stat: string): string[] {
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}
