import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CgroupSystem } from './cgroup.ts';
import { detectCgroups } from './cgroup-detect.ts';
import { cgroupV2 } from './cgroup-v2.ts';
import { runsHere } from './bwrap-test-support.ts';
import { pollUntil } from './poll.ts';
import { newSandboxName } from './sandbox-names.ts';

/**
 * Both cgroup backends against the kernel. This machine has cgroup v1 controllers plus an empty
 * v2 tree at /sys/fs/cgroup/unified: v1 is tested whole; v2 is tested for what works without
 * controllers (create, join, list, cgroup.kill, remove). Its limit files are not exercised here.
 */
const unified = '/sys/fs/cgroup/unified';

async function exercise(system: CgroupSystem): Promise<void> {
  const name = newSandboxName();
  const cgroup = system.create(name);
  expect(system.list()).toContain(name);
  cgroup.setLimits({ memoryBytes: 64 << 20, pids: 16, cpuCores: 0.5 });
  const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
  cgroup.join(sleeper.pid as number);
  expect(cgroup.pids()).toEqual([sleeper.pid]);
  await cgroup.destroy();
  expect(await exited).toBe('SIGKILL');
  expect(system.list()).not.toContain(name);
}

describe('cgroups', () => {
  it('detects this machine as cgroup v1 with memory, pids and cpu', () => {
    const { system } = detectCgroups('longrun');
    expect(system?.version).toBe('v1');
    expect([...(system?.controllers ?? [])].sort()).toEqual(['cpu', 'memory', 'pids']);
  });

  it('v1: limits are written, a joined process is listed, destroy kills it and removes the cgroup', async () => {
    const { system } = detectCgroups('longrun');
    if (system === null) throw new Error('no cgroups here');
    const name = newSandboxName();
    const cgroup = system.create(name);
    cgroup.setLimits({ memoryBytes: 64 << 20, pids: 16, cpuCores: 0.5 });
    expect(
      readFileSync(`/sys/fs/cgroup/memory/longrun/${name}/memory.limit_in_bytes`, 'utf8').trim(),
    ).toBe(String(64 << 20));
    expect(readFileSync(`/sys/fs/cgroup/pids/longrun/${name}/pids.max`, 'utf8').trim()).toBe('16');
    expect(readFileSync(`/sys/fs/cgroup/cpu/longrun/${name}/cpu.cfs_quota_us`, 'utf8').trim()).toBe(
      '50000',
    );
    await cgroup.destroy();
    await exercise(system);
  });

  it.runIf(runsHere(existsSync(join(unified, 'cgroup.procs')), `a cgroup v2 tree at ${unified}`))(
    'v2: join, list, cgroup.kill and removal work',
    async () => {
      const parent = `longrun-test-${process.pid}`;
      const system = cgroupV2(unified, parent);
      try {
        expect(system.version).toBe('v2');
        await exercise(system);
      } finally {
        await pollUntil(2_000, () => {
          try {
            rmdirSync(join(unified, parent));
            return true;
          } catch {
            return false;
          }
        });
      }
    },
  );
});
