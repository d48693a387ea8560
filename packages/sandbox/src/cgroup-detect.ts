import { readFileSync } from 'node:fs';
import type { CgroupSystem, Controller } from './cgroup.ts';
import { cgroupV1 } from './cgroup-v1.ts';
import { cgroupV2 } from './cgroup-v2.ts';

export type CgroupDetection = { system: CgroupSystem } | { system: null; reason: string };

interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  superOptions: string[];
}

const controllers: readonly Controller[] = ['memory', 'pids', 'cpu'];

/**
 * Finds the cgroup hierarchies from /proc/self/mountinfo. A v1 controller wins over v2: on a
 * hybrid machine (v1 controllers plus an empty `unified` v2 tree, like this CI host) the v2 tree
 * has no controllers to give.
 */
export function detectCgroups(parent: string): CgroupDetection {
  const mounts = cgroupMounts();
  const v1 = new Map<Controller, string>();
  for (const controller of controllers) {
    const mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
    if (mount !== undefined) v1.set(controller, mount.mountPoint);
  }
  const v2 = mounts.find((m) => m.fsType === 'cgroup2');
  try {
    if (v1.size > 0) return { system: cgroupV1(v1, parent) };
    if (v2 !== undefined) return { system: cgroupV2(v2.mountPoint, parent) };
  } catch (error) {
    return {
      system: null,
      reason: `cannot create the cgroup parent '${parent}' (${(error as Error).message}); run the worker as root or give it a delegated cgroup`,
    };
  }
  return { system: null, reason: 'no cgroup filesystem is mounted' };
}

function cgroupMounts(): CgroupMount[] {
  const found: CgroupMount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const mountPoint = before.split(' ')[4];
    const [fsType, , superOptions = ''] = after.split(' ');
    if (mountPoint === undefined || (fsType !== 'cgroup' && fsType !== 'cgroup2')) continue;
    found.push({ mountPoint, fsType, superOptions: superOptions.split(',') });
  }
  return found;
}
