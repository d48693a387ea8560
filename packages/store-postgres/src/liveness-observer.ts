import { performance } from 'node:perf_hooks';
import type { PostgresAccess } from './postgres-access.ts';
import type { Row } from './rows.ts';

export interface LivenessObserverOptions {
  /** The observer's own clock, milliseconds: monotonic (default), or a test's injected time. */
  nowMs?: () => number;
  /** How often the workers' beat counts are read, milliseconds. */
  everyMs?: number;
  /** The L to assume for a worker whose row does not say (registered by an older longrun). */
  defaultLivenessMs: number;
  /** Worker ids of this process, never declared dead by it. */
  isOwn: (workerId: string) => boolean;
  log?: (message: string) => void;
}

interface Seen {
  beats: string;
  livenessMs: number;
  /** When this count was first read, by the observer's clock (after the read returned). */
  sinceMs: number;
}

/**
 * Declares a worker dead when its heartbeat count has stood still for its L by this process's
 * own monotonic clock (DESIGN §3, one holder). Only a declared-dead (ended) worker's sessions
 * are claimable by others, so no clock's reading decides a takeover — only clock rates: the
 * holder stops its side effects L/2 after the send of its last confirmed heartbeat, which
 * committed before this observer first read that count, and the declaration comes L after that
 * read. A step of the server's or a worker's wall clock changes nothing. The declaration is
 * conditional on the count it saw: a heartbeat that lands first keeps the worker alive, one that
 * comes after finds the worker ended and stops it at once (worker-liveness.ts).
 */
export class LivenessObserver {
  readonly #store: PostgresAccess;
  readonly #o: Required<Omit<LivenessObserverOptions, 'log'>> &
    Pick<LivenessObserverOptions, 'log'>;
  readonly #seen = new Map<string, Seen>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(store: PostgresAccess, options: LivenessObserverOptions) {
    this.#store = store;
    this.#o = {
      nowMs: () => performance.now(),
      everyMs: Math.max(10, Math.min(100, Math.floor(options.defaultLivenessMs / 10))),
      ...options,
    };
  }

  /** Starts observing (idempotent); claims find the dead already declared. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => void this.observe(), this.#o.everyMs);
    this.#timer.unref();
    void this.observe();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One look: reads every worker's count and declares dead those that stood still for L. */
  observe(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#running ??= this.#look().finally(() => (this.#running = null));
    return this.#running;
  }

  async #look(): Promise<void> {
    let rows: Row[];
    try {
      rows = await this.#store.read('observing worker heartbeats', 'observeWorkers', []);
    } catch {
      // The store is unreachable: nobody can claim anything either. What was seen stands.
      return;
    }
    const now = this.#o.nowMs();
    const listed = new Set<string>();
    for (const row of rows) {
      const workerId = String(row.worker_id);
      if (this.#o.isOwn(workerId)) continue;
      listed.add(workerId);
      const beats = String(row.beats);
      const rowL = Number(row.liveness_ms);
      const livenessMs = rowL > 0 ? rowL : this.#o.defaultLivenessMs;
      const seen = this.#seen.get(workerId);
      if (seen === undefined || seen.beats !== beats) {
        this.#seen.set(workerId, { beats, livenessMs, sinceMs: now });
        continue;
      }
      const stillMs = now - seen.sinceMs;
      if (stillMs < seen.livenessMs) continue;
      try {
        const declared = await this.#store.write('declaring a worker dead', 'declareDead', [
          workerId,
          beats,
        ]);
        this.#seen.delete(workerId);
        if (declared.length > 0) {
          this.#o.log?.(
            `worker ${workerId}: no heartbeat for ${Math.round(stillMs)} ms (its liveness is ${seen.livenessMs} ms); declared dead, its sessions are claimable`,
          );
        }
      } catch {
        // Not declared; the next look tries again.
      }
    }
    for (const workerId of this.#seen.keys())
      if (!listed.has(workerId)) this.#seen.delete(workerId);
  }
}
