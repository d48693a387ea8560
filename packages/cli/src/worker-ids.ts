import { workerId, type SessionStore, type WorkerId } from '@longrun/core';

/**
 * A stable worker id for a command (`<host>-worker`, `<host>-run`, `<host>-dev`), the same way on
 * every store: a restarted process reclaims its sessions at once under it. A store lets one live process hold an id; when another process
 * of the same command holds it (two `longrun run` at once), this one takes `<base>-<pid>` instead,
 * and its sessions are resumed by expiry rather than at its own restart.
 */
export async function stableWorkerId(store: SessionStore, base: string): Promise<WorkerId> {
  try {
    const probe = await store.registerWorker(workerId(base));
    await probe.close();
    return workerId(base);
  } catch {
    return workerId(`${base}-${process.pid}`);
  }
}
