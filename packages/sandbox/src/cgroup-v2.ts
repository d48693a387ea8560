import { writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

const wanted: readonly Controller[] = ['memory', 'pids', 'cpu'];

/**
 * cgroup v2: one unified tree. The `longrun` parent enables the memory, pids and cpu controllers
 * for its children (those the root offers); each sandbox is one leaf directory.
 */
export function cgroupV2(root: string, parent: string): CgroupSystem {
  const parentDir = join(root, parent);
  mkdirSync(parentDir, { recursive: true });
  const controllers = enableControllers(root, parentDir);
  const open = (name: string): SandboxCgroup => new CgroupV2(join(parentDir, name), controllers);
  return {
    version: 'v2',
    controllers,
    create(name) {
      mkdirSync(join(parentDir, name));
      return open(name);
    },
    list: () => childCgroups(parentDir, ''),
    open,
  };
}

/** Turns on each wanted controller the root delegates; returns those that are on. */
function enableControllers(root: string, parentDir: string): Set<Controller> {
  const available = (dir: string): string[] =>
    readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  for (const controller of wanted) {
    if (!available(root).includes(controller)) continue;
    for (const dir of [root, parentDir]) {
      try {
        writeFileSync(join(dir, 'cgroup.subtree_control'), `+${controller}`);
      } catch {
        // Not ours to enable (or already on): what is on is read back below.
      }
    }
  }
  const enabled = readFileSync(join(parentDir, 'cgroup.subtree_control'), 'utf8');
  return new Set(wanted.filter((controller) => enabled.split(/\s+/).includes(controller)));
}

class CgroupV2 implements SandboxCgroup {
  readonly name: string;
  private readonly dir: string;
  private readonly controllers: ReadonlySet<Controller>;

  constructor(dir: string, controllers: ReadonlySet<Controller>) {
    this.dir = dir;
    this.name = dir.slice(dir.lastIndexOf('/') + 1);
    this.controllers = controllers;
  }

  setLimits(limits: CgroupLimits): void {
    const write = (file: string, value: string): void => writeFileSync(join(this.dir, file), value);
    if (this.controllers.has('memory')) {
      write('memory.max', String(limits.memoryBytes));
      if (existsSync(join(this.dir, 'memory.swap.max'))) write('memory.swap.max', '0');
    }
    if (this.controllers.has('pids')) write('pids.max', String(limits.pids));
    if (this.controllers.has('cpu')) {
      const { periodUs, quotaUs } = cpuBandwidth(limits.cpuCores);
      write('cpu.max', `${quotaUs} ${periodUs}`);
    }
  }

  join(pid: number): void {
    writeFileSync(join(this.dir, cgroupProcsFile), String(pid));
  }

  async joinInBackground(pid: number): Promise<void> {
    await writeFile(join(this.dir, cgroupProcsFile), String(pid));
  }

  pids(): number[] {
    return readPids(this.dir);
  }

  async destroy(): Promise<void> {
    if (!existsSync(this.dir)) return;
    // cgroup.kill (Linux 5.14+) kills the whole subtree atomically, forks in flight included.
    const killFile = join(this.dir, 'cgroup.kill');
    if (existsSync(killFile)) writeFileSync(killFile, '1');
    await drainAndRemove([this.dir]);
  }
}
