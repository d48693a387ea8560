import { performance } from 'node:perf_hooks';
import type { PostgresAccess } from './postgres-access.ts';
import { processIsGone, type ProcessIdentity } from './process-identity.ts';
import type { Row } from './rows.ts';

export interface DeadWorkerSweepTiming {
  /** How often the processes are looked at in /proc, milliseconds (no store round trip). */
  checkEveryMs?: number;
  /** How often the list of this host's live workers is read from the store, milliseconds. */
  refreshEveryMs?: number;
  /** How long a process must have been seen gone before its liveness is ended, milliseconds. */
  graceMs?: number;
}

interface Peer {
  workerId: string;
  pid: number;
  startedTicks: string;
  /** When it was first seen gone, by performance.now(). */
  goneSinceMs: number | null;
}

/**
 * Fast takeover after a kill -9 without waiting for the liveness to lapse: a worker process on
 * the same host as a dead one can see that it is gone (its /proc entry vanished, was reused, or
 * is a zombie), which is proof of death where a lapsed heartbeat is only a timeout. The list of
 * this host's live workers is read from the store once a second; their processes are looked at
 * every `checkEveryMs`. A process must be seen gone on two looks `graceMs` apart, so that the
 * children the kernel kills with it (sandboxes, by PR_SET_PDEATHSIG: signalled when it exits,
 * dead a moment later) are gone too before its sessions are handed on. Workers on other hosts
 * are left to their liveness.
 */
export class DeadWorkerSweep {
  readonly #identity: ProcessIdentity;
  readonly #store: PostgresAccess;
  readonly #o: Required<DeadWorkerSweepTiming>;
  #peers: Peer[] = [];
  #listedAtMs = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(
    identity: ProcessIdentity,
    store: PostgresAccess,
    timing: DeadWorkerSweepTiming = {},
  ) {
    this.#identity = identity;
    this.#store = store;
    this.#o = { checkEveryMs: 50, refreshEveryMs: 1_000, graceMs: 20, ...timing };
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => this.#look(), this.#o.checkEveryMs);
    this.#timer.unref();
  }

  #look(): void {
    if (this.#stopped) return;
    this.#running ??= this.#sweep().finally(() => (this.#running = null));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #sweep(): Promise<void> {
    if (performance.now() - this.#listedAtMs >= this.#o.refreshEveryMs) await this.#refresh();
    const now = performance.now();
    for (const peer of this.#peers) {
      if (!processIsGone(peer.pid, peer.startedTicks)) {
        peer.goneSinceMs = null;
        continue;
      }
      if (peer.goneSinceMs === null) {
        peer.goneSinceMs = now;
        // The second look comes after the grace, not at the next tick.
        setTimeout(() => this.#look(), this.#o.graceMs).unref();
        continue;
      }
      if (now - peer.goneSinceMs < this.#o.graceMs) continue;
      try {
        const { hostId } = this.#identity;
        const values = [peer.workerId, hostId, peer.pid, peer.startedTicks];
        await this.#store.write("ending a dead worker's liveness", 'endLiveness', values);
        this.#peers = this.#peers.filter((p) => p !== peer);
      } catch {
        // The store is unreachable: the worker's liveness lapses on its own.
      }
    }
  }

  async #refresh(): Promise<void> {
    let rows: Row[];
    const { hostId, pid, startedTicks } = this.#identity;
    try {
      const values = [hostId, pid, startedTicks];
      rows = await this.#store.read('finding dead workers', 'liveOnHost', values);
    } catch {
      return;
    }
    this.#listedAtMs = performance.now();
    const known = new Map(this.#peers.map((p) => [`${p.workerId}/${p.pid}/${p.startedTicks}`, p]));
    this.#peers = rows.map((row) => {
      const peer = {
        workerId: String(row.worker_id),
        pid: Number(row.pid),
        startedTicks: String(row.started_ticks),
      };
      return (
        known.get(`${peer.workerId}/${peer.pid}/${peer.startedTicks}`) ?? {
          ...peer,
          goneSinceMs: null,
        }
      );
    });
  }
}
