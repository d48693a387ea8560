import { isLongrunError, workerId, type WorkerId } from '@longrun/core';
import type { Worker } from '@longrun/runtime';

/**
 * Starts a command's worker under a stable id (`<host>-worker`, `<host>-run`, `<host>-dev`), the
 * same way on every store: a restarted process reclaims its sessions at once under it. A store
 * lets one live process hold an id; when another holds it (two `longrun worker` on one host,
 * started at the same instant or not), this one starts as `<base>-<pid>` instead, and its
 * sessions are resumed by others once it is gone rather than at its own restart. Deciding by the
 * registration itself, not by a probe before it, leaves no window for two processes to pick one id.
 */
export async function startUnderStableId(
  base: string,
  build: (id: WorkerId) => Worker,
): Promise<Worker> {
  const first = build(workerId(base));
  try {
    await first.start();
    return first;
  } catch (error) {
    if (!isLongrunError(error, 'INVALID_STATE')) throw error;
    await first.stop().catch(() => undefined);
  }
  const second = build(workerId(`${base}-${process.pid}`));
  await second.start();
  return second;
}
