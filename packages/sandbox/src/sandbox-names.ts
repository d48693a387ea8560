import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';

/**
 * Names of per-sandbox resources (cgroups, staging directories): `lr-<pid>-<start>-<n>`, where
 * pid and start (clock ticks after boot, field 22 of /proc/<pid>/stat) identify the worker
 * process that made them. A later worker removes what belongs to a process that is gone; the
 * start time keeps a reused pid from passing for the dead owner.
 */
const pattern = /^lr-(\d+)-(\d+)-\d+$/;
let counter = 0;

export function newSandboxName(): string {
  counter += 1;
  return `lr-${process.pid}-${startTicks(process.pid) ?? 0}-${counter}`;
}

export function isSandboxName(name: string): boolean {
  return pattern.test(name);
}

/** True when the worker that made `name` is still running (or the name is not ours). */
export function ownerAlive(name: string): boolean {
  const match = pattern.exec(name);
  if (match === null) return true;
  return startTicks(Number(match[1])) === Number(match[2]);
}

function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/**
 * Host uids for sandboxes when the worker is root: one per sandbox, from a range no distribution
 * hands out (above 2^31 − 2^28, below the 2^32 − 1 "no uid"), so a sandbox's processes and files
 * are nobody else's: not root's, not another sandbox's. A collision between two workers is
 * possible and harmless beyond losing that separation (namespaces still apply).
 */
export const sandboxUidBase = 0x70000000;
const sandboxUidCount = 0x01000000;

export function newSandboxUid(): number {
  return sandboxUidBase + randomInt(sandboxUidCount);
}
