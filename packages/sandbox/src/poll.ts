import { setTimeout as delay } from 'node:timers/promises';

/**
 * Calls `check` until it returns true or `timeoutMs` passes; true when it did. For waiting on
 * the kernel (a killed process leaving its cgroup, a mount going away), never for ordering our
 * own code. The interval starts at 1 ms and doubles up to 50 ms.
 */
export async function pollUntil(timeoutMs: number, check: () => boolean): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let intervalMs = 1;
  for (;;) {
    if (check()) return true;
    if (performance.now() >= deadline) return false;
    await delay(intervalMs);
    intervalMs = Math.min(intervalMs * 2, 50);
  }
}
