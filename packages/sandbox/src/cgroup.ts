import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from './poll.ts';

/**
 * Per-sandbox control groups: memory, pids and cpu limits, and a list of every process a
 * sandbox started (its tree-kill handle). cgroup v1 (one hierarchy per controller) and v2 (one
 * unified tree) sit behind this interface; the rest of the driver does not know which it has.
 */
export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpuCores: number;
}

export interface SandboxCgroup {
  readonly name: string;
  setLimits(limits: CgroupLimits): void;
  /**
   * Moves a process (with its threads) in; its later children are born inside. A move can wait
   * for an RCU grace period (10–45 ms here under load; not when another move just happened).
   */
  join(pid: number): void;
  /** The same off the event loop, for a process nothing waits for yet. */
  joinInBackground(pid: number): Promise<void>;
  /** Pids of every process inside. */
  pids(): number[];
  /** SIGKILLs every process inside, until none is left (bounded); then removes the cgroup. */
  destroy(): Promise<void>;
}

export type Controller = 'memory' | 'pids' | 'cpu';

export interface CgroupSystem {
  readonly version: 'v1' | 'v2';
  /** The controllers this machine lets longrun use; a missing one is a protection not enforced. */
  readonly controllers: ReadonlySet<Controller>;
  create(name: string): SandboxCgroup;
  /** Names of the sandbox cgroups under longrun's parent, for the leftover sweep. */
  list(): string[];
  open(name: string): SandboxCgroup;
}

export const cgroupProcsFile = 'cgroup.procs';

/** CPU bandwidth for `cores` cores: a quota per 100 ms period, at least 1 ms. */
export function cpuBandwidth(cores: number): { periodUs: number; quotaUs: number } {
  const periodUs = 100_000;
  return { periodUs, quotaUs: Math.max(1_000, Math.round(cores * periodUs)) };
}

export function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, cgroupProcsFile), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already: that is what we want.
    }
  }
}

export function childCgroups(dir: string, prefix: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix))
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/**
 * Kills what is in `dirs` until they are empty, then removes them. A process leaves
 * cgroup.procs when it exits, a moment after SIGKILL; rmdir fails (EBUSY) until then.
 */
export async function drainAndRemove(dirs: readonly string[], timeoutMs = 5_000): Promise<void> {
  const emptied = await pollUntil(timeoutMs, () => {
    const left = dirs.flatMap(readPids);
    killPids(left);
    return left.length === 0;
  });
  const removed = await pollUntil(timeoutMs, () => dirs.every(tryRmdir));
  if (!emptied || !removed) {
    throw new Error(`cgroups ${dirs.join(', ')} still busy after ${timeoutMs} ms`);
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
