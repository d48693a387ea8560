import { processIsGone, type ProcessIdentity } from './process-identity.ts';
import type { Row } from './rows.ts';

export interface DeadWorkerSweepOptions {
  identity: ProcessIdentity;
  /** Runs `liveOnHost` (the other workers of this host still counted alive). */
  listLiveOnHost: (identity: ProcessIdentity) => Promise<Row[]>;
  /** Runs `endLiveness` for a worker process seen gone. */
  endLiveness: (workerId: string, pid: number, startedTicks: string) => Promise<void>;
  everyMs?: number;
}

/**
 * Fast takeover after a kill -9 without waiting for the liveness to lapse: a worker process on
 * the same host as a dead one can see that it is gone (its /proc entry vanished, was reused, or
 * is a zombie), which is proof of death where a lapsed heartbeat is only a timeout. A process
 * must be seen gone twice, `everyMs` apart, so that the children it asked the kernel to kill
 * with it (sandboxes, by PR_SET_PDEATHSIG) are gone too before its sessions are handed on.
 * Workers on other hosts are left to their liveness.
 */
export class DeadWorkerSweep {
  readonly #o: Required<DeadWorkerSweepOptions>;
  /** Workers seen gone once: `worker/pid/ticks`. */
  #suspects = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: DeadWorkerSweepOptions) {
    this.#o = { everyMs: 100, ...options };
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.#sweep().finally(() => (this.#running = null));
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #sweep(): Promise<void> {
    let rows: Row[];
    try {
      rows = await this.#o.listLiveOnHost(this.#o.identity);
    } catch {
      return; // the store is unreachable: nothing can be handed on anyway
    }
    const seen = new Set<string>();
    for (const row of rows) {
      const pid = Number(row.pid);
      const ticks = String(row.started_ticks);
      if (!processIsGone(pid, ticks)) continue;
      const key = `${String(row.worker_id)}/${pid}/${ticks}`;
      seen.add(key);
      if (!this.#suspects.has(key)) continue;
      await this.#o.endLiveness(String(row.worker_id), pid, ticks).catch(() => undefined);
    }
    this.#suspects = seen;
  }
}
