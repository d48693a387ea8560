import { writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cgroupProcsFile,
  childCgroups,
  cpuBandwidth,
  drainAndRemove,
  readPids,
  type CgroupLimits,
  type CgroupSystem,
  type Controller,
  type SandboxCgroup,
} from './cgroup.ts';

/**
 * cgroup v1: each controller is its own hierarchy (`/sys/fs/cgroup/memory`, `…/pids`,
 * `…/cpu,cpuacct`), so a sandbox gets one directory per controller, all with the same name,
 * under a `longrun` parent in each.
 */
export function cgroupV1(mounts: ReadonlyMap<Controller, string>, parent: string): CgroupSystem {
  const parents = new Map(
    [...mounts].map(([controller, root]) => [controller, join(root, parent)]),
  );
  for (const dir of parents.values()) mkdirSync(dir, { recursive: true });
  const open = (name: string): SandboxCgroup => new CgroupV1(name, parents);
  return {
    version: 'v1',
    controllers: new Set(mounts.keys()),
    create(name) {
      for (const dir of parents.values()) mkdirSync(join(dir, name));
      return open(name);
    },
    list() {
      return [...new Set([...parents.values()].flatMap((dir) => childCgroups(dir, '')))];
    },
    open,
  };
}

class CgroupV1 implements SandboxCgroup {
  readonly name: string;
  private readonly dirs: Map<Controller, string>;

  constructor(name: string, parents: ReadonlyMap<Controller, string>) {
    this.name = name;
    this.dirs = new Map([...parents].map(([controller, dir]) => [controller, join(dir, name)]));
  }

  setLimits(limits: CgroupLimits): void {
    const memory = this.dirs.get('memory');
    if (memory !== undefined) {
      writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // memory+swap: without it a sandbox on a host with swap could page its way past the limit.
      const memsw = join(memory, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) writeFileSync(memsw, String(limits.memoryBytes));
    }
    const pids = this.dirs.get('pids');
    if (pids !== undefined) writeFileSync(join(pids, 'pids.max'), String(limits.pids));
    const cpu = this.dirs.get('cpu');
    if (cpu !== undefined) {
      const { periodUs, quotaUs } = cpuBandwidth(limits.cpuCores);
      writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(quotaUs));
      writeFileSync(
        join(cpu, 'cpu.shares'),
        String(Math.max(2, Math.round(limits.cpuCores * 1024))),
      );
    }
  }

  join(pid: number): void {
    for (const dir of this.dirs.values()) writeFileSync(join(dir, cgroupProcsFile), String(pid));
  }

  async joinInBackground(pid: number): Promise<void> {
    for (const dir of this.dirs.values()) await writeFile(join(dir, cgroupProcsFile), String(pid));
  }

  pids(): number[] {
    return [...new Set([...this.dirs.values()].flatMap(readPids))];
  }

  destroy(): Promise<void> {
    // v1 has no cgroup.kill: kill what is listed until nothing is. The sandbox's pid namespace
    // dies with its init (killed first by the driver), so nothing here can keep forking.
    return drainAndRemove([...this.dirs.values()].filter((dir) => existsSync(dir)));
  }
}
