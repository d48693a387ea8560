import type { ProtectionReport } from '@longrun/core';
import { probeBwrapHost } from './bwrap-probe.ts';
import { bwrapReport } from './bwrap-report.ts';
import { detectCgroups } from './cgroup-detect.ts';
import { processDriver } from './process-driver.ts';

/**
 * What each driver enforces on this machine, for `longrun doctor`. Probes like the bubblewrap
 * driver does at start (one trial sandbox), without sweeping anything.
 */
export async function protectionsReport(
  options: { bwrapPath?: string; cgroupParent?: string } = {},
): Promise<ProtectionReport[]> {
  const host = probeBwrapHost(
    options.bwrapPath ?? '/usr/bin/bwrap',
    detectCgroups(options.cgroupParent ?? 'longrun'),
  );
  return [bwrapReport(host), await processDriver().protections()];
}
