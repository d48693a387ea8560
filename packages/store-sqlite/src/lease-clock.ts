import { readFileSync } from 'node:fs';
import { hostname, uptime } from 'node:os';
import type { Clock } from '@longrun/core';

/**
 * The clock leases are judged by on one host: the kernel's monotonic clock, which every process
 * of the host shares and no wall-clock step (NTP, a VM resumed, an operator's `date -s`) moves,
 * qualified by the boot it belongs to — a lease taken before a reboot is over, whatever its
 * deadline says. Wall-clock times are still written beside it for people to read.
 */
export interface LeaseClock {
  /** Names the clock's epoch; deadlines read against another boot's clock have lapsed. */
  readonly bootId: string;
  nowMs(): number;
}

/** The host's monotonic clock, or an injected (test) clock, which is its own epoch. */
export function leaseClockFor(injected: Clock | undefined): LeaseClock {
  if (injected !== undefined) return { bootId: 'injected-clock', nowMs: () => injected.nowMs() };
  return { bootId: currentBootId(), nowMs: () => Number(process.hrtime.bigint() / 1_000_000n) };
}

function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // No boot id (not Linux): the boot's start time to the nearest ten seconds names it.
    return `${hostname()}@${Math.round((Date.now() / 1000 - uptime()) / 10)}`;
  }
}
