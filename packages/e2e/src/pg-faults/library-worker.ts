import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { workerId } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { PostgresStore } from '@longrun/store-postgres';
import { faultAgent } from './fault-agent.ts';

export interface AckedEvent {
  sessionId: string;
  seq: number;
  type: string;
  epoch: number;
}

export interface LibraryWorkerOptions {
  storeUrl: string;
  dir: string;
  leaseMs: number;
  /** The store's workerLivenessMs for this worker (the CLI cannot set it; the library can). */
  livenessMs: number;
  toolMs: [number, number];
  concurrency: number;
  /** The store's queryTimeoutMs (default 30 s). */
  queryTimeoutMs?: number;
}

/**
 * A `Worker` in the test process — the library shape of longrun — on its own store, running the
 * fault agent. Every event the store acknowledged to it is kept (`acked`), so the run can check
 * that none is lost; its log and its store's connection reports go to logs/library.log.
 */
export class LibraryWorker {
  readonly acked: AckedEvent[] = [];
  /**
   * Appends whose acknowledgement was lost and whose retry the store recognised as committed:
   * the events acknowledged after a stall were committed (`atMs`, the server's time of the
   * append) before that stall was reported — so by an attempt sent before the failure, not by the
   * retry, which went out after it. Same host, so the two clocks are one.
   */
  lostAcksRecognised = 0;
  /** Appends that stalled (failed transiently) and then went through. */
  stallsRecovered = 0;
  readonly #stalledAtMs = new Map<string, number>();
  readonly logPath: string;
  readonly pid = process.pid;
  #store: PostgresStore | null = null;
  #worker: Worker | null = null;
  readonly options: LibraryWorkerOptions;

  constructor(options: LibraryWorkerOptions) {
    this.options = options;
    mkdirSync(join(options.dir, 'logs'), { recursive: true });
    this.logPath = join(options.dir, 'logs', 'library.log');
  }

  get workerId(): string | null {
    return this.#worker?.id ?? null;
  }

  async start(): Promise<void> {
    const o = this.options;
    const log = (entry: object): void =>
      appendFileSync(
        this.logPath,
        `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`,
      );
    this.#store = await PostgresStore.open({
      url: o.storeUrl,
      applicationName: 'longrun-library-worker',
      workerLivenessMs: o.livenessMs,
      ...(o.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: o.queryTimeoutMs }),
      waitForServerMs: 60_000,
      log: (msg) => log({ level: 'store', msg }),
    });
    this.#worker = new Worker({
      store: this.#store,
      workerId: workerId(`library-${process.pid}`),
      agents: [
        faultAgent({
          dir: o.dir,
          toolMinMs: o.toolMs[0],
          toolMaxMs: o.toolMs[1],
          chunkDelayMs: 5,
        }),
      ],
      leaseMs: o.leaseMs,
      concurrency: o.concurrency,
      pollMs: 100,
    });
    this.#worker.on('append.stalled', ({ sessionId }) =>
      this.#stalledAtMs.set(sessionId, Date.now()),
    );
    this.#worker.on('events.committed', ({ events }) => {
      const first = events[0];
      const stalledAt = first === undefined ? undefined : this.#stalledAtMs.get(first.sessionId);
      if (first !== undefined && stalledAt !== undefined) {
        this.#stalledAtMs.delete(first.sessionId);
        this.stallsRecovered++;
        if (first.atMs <= stalledAt) this.lostAcksRecognised++;
      }
      for (const e of events) {
        this.acked.push({ sessionId: e.sessionId, seq: e.seq, type: e.type, epoch: e.epoch });
      }
    });
    this.#worker.on('log', log);
    await this.#worker.start();
  }

  async stop(): Promise<void> {
    await this.#worker?.stop();
    await this.#store?.close();
    this.#worker = null;
    this.#store = null;
  }
}
