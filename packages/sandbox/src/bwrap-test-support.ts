import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type {
  ExecRequest,
  ExecResult,
  Sandbox,
  SandboxDriver,
  SandboxLimits,
  SandboxSpec,
} from '@longrun/core';
import { pollUntil } from './poll.ts';

/** Test helpers for the bubblewrap suites: workspaces, quick exec, and the host-leftover scan. */

/**
 * Whether a test that needs `what` can run on this machine. When it cannot, says so loudly, and
 * with CI=true throws: a suite that does not run must not pass in silence.
 */
export function runsHere(available: boolean, what: string): boolean {
  if (available) return true;
  const message = `a sandbox test did NOT run: it needs ${what}`;
  console.error(`\n!!! ${message}\n`);
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true requires it)`);
  return false;
}

export const defaultLimits: SandboxLimits = {
  memoryBytes: 256 << 20,
  pids: 64,
  cpuCores: 1,
  workspaceBytes: 64 << 20,
};

const created: string[] = [];

/** A fresh directory under the system temp dir; `removeWorkspaces` deletes them all. */
export function newWorkspace(prefix = 'longrun-bwrap-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function removeWorkspaces(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function specFor(workspaceDir: string, overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    workspaceDir,
    env: { PATH: '/usr/bin:/bin' },
    limits: defaultLimits,
    network: 'none',
    ...overrides,
  };
}

export function sh(
  sandbox: Sandbox,
  script: string,
  options: Partial<ExecRequest> = {},
): Promise<ExecResult> {
  return sandbox.exec({
    argv: ['/bin/sh', '-c', script],
    timeoutMs: 20_000,
    maxOutputBytes: 200_000,
    ...options,
  });
}

/** Runs a Python program inside (Debian's /usr/bin/python3 is part of the read-only /usr). */
export function python(
  sandbox: Sandbox,
  program: string,
  options: Partial<ExecRequest> = {},
): Promise<ExecResult> {
  return sandbox.exec({
    argv: ['/usr/bin/python3', '-c', program],
    timeoutMs: 20_000,
    maxOutputBytes: 200_000,
    ...options,
  });
}

/** Host uid the sandbox's commands run as (each sandbox has its own when the worker is root). */
export async function sandboxUid(sandbox: Sandbox): Promise<number> {
  const result = await sh(sandbox, 'id -u');
  return Number(result.stdout.trim());
}

/**
 * Pids of live host processes running as `uid`. Zombies are not counted: bubblewrap's monitor
 * exits without reaping the sandbox's init, so the dead init waits (a pid entry, no memory, no
 * CPU, nothing running) until the host's pid 1 reaps it; this container's init takes 1–2 s.
 */
export function processesOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
      const zombie = /^State:\s+Z/m.test(status);
      if (uids !== null && !zombie && (Number(uids[1]) === uid || Number(uids[2]) === uid)) {
        pids.push(Number(name));
      }
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/**
 * What a closed sandbox left on the host: processes of its uid, its cgroups in any hierarchy,
 * mounts of its staging directory or over its workspace. Empty when the host is clean.
 */
export function hostLeftovers(s: { name: string; uid: number; workspaceDir: string }): string[] {
  const found: string[] = [];
  const pids = processesOfUid(s.uid);
  if (pids.length > 0) found.push(`processes of uid ${s.uid}: ${pids.join(', ')}`);
  for (const hierarchy of safeReaddir('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', hierarchy, 'longrun', s.name);
    if (existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    if (mountPoint.includes(s.name) || mountPoint === s.workspaceDir)
      found.push(`mount ${mountPoint}`);
  }
  return found;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export interface Opened {
  sandbox: Sandbox;
  uid: number;
  workspaceDir: string;
}

/**
 * Opens a sandbox on a fresh workspace, runs `use`, closes it, and then requires the host to be
 * clean (polled for up to 2 s: the kernel reaps killed processes asynchronously).
 */
export async function withSandbox(
  driver: SandboxDriver,
  overrides: Partial<SandboxSpec>,
  use: (opened: Opened) => Promise<void>,
): Promise<void> {
  const workspaceDir = overrides.workspaceDir ?? newWorkspace();
  const sandbox = await driver.open(specFor(workspaceDir, overrides));
  const uid = await sandboxUid(sandbox);
  try {
    await use({ sandbox, uid, workspaceDir });
  } finally {
    await sandbox.close();
  }
  const leftovers = { name: sandbox.id, uid, workspaceDir };
  await pollUntil(2_000, () => hostLeftovers(leftovers).length === 0);
  expect(hostLeftovers(leftovers)).toEqual([]);
}
