import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivatePostgres, type PrivatePostgres } from '../faults/private-postgres.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from '../faults/tcp-fault-proxy.ts';
import { CliWorker } from './cli-worker.ts';
import { LibraryWorker } from './library-worker.ts';
import { RunObserver } from './run-observer.ts';
import { readRecords } from './records.ts';
import { checkRun, type RunFacts, type RunVerdict } from './fault-invariants.ts';

export interface FaultRunOptions {
  /** Names the run's directory and its log lines. */
  label: string;
  seed: number;
  /** `longrun worker` processes started at once. */
  cliWorkers: number;
  /** Also run a library `Worker` in the test process. */
  library: boolean;
  /** Put a TCP fault proxy between each worker and Postgres (one per worker). */
  proxied: boolean;
  leaseMs: number;
  libraryLivenessMs: number;
  /** The `longrun worker` processes' `--liveness-ms` (default: the CLI's, 5000). */
  cliLivenessMs?: number;
  /** Sessions kept in progress while faults run. */
  activeSessions: number;
  /** Model turns per session. */
  steps: number;
  toolMs: [number, number];
  /** Sessions each worker runs at once: small, so that every worker holds some. */
  concurrency: number;
  /** More flags of the `longrun worker` processes. */
  cliArgs?: readonly string[];
  /** Added to the `longrun worker` processes' NODE_OPTIONS. */
  cliNodeOptions?: string;
  /** The library worker's store queryTimeoutMs (default: the store's, 30 s). */
  libraryQueryTimeoutMs?: number;
}

/**
 * One fault run: a private PostgreSQL cluster, `longrun worker` processes and optionally a
 * library worker running the fault agent (each through its own fault proxy if asked), and the
 * observer that feeds sessions and watches commits. A test drives the faults; `finish` drains
 * and checks the invariants (fault-invariants.ts). The run's directory is kept when the run
 * failed, so its logs can be read.
 */
export class FaultRun {
  readonly options: FaultRunOptions;
  readonly pg: PrivatePostgres;
  readonly dir: string;
  readonly observer: RunObserver;
  /** Every CLI worker started, killed ones included. */
  readonly workers: CliWorker[] = [];
  readonly proxies = new Map<string, TcpFaultProxy>();
  library: LibraryWorker | null = null;
  #spawned = 0;

  private constructor(
    options: FaultRunOptions,
    pg: PrivatePostgres,
    dir: string,
    observer: RunObserver,
  ) {
    this.options = options;
    this.pg = pg;
    this.dir = dir;
    this.observer = observer;
  }

  static async start(options: FaultRunOptions): Promise<FaultRun> {
    const dir = mkdtempSync(join(tmpdir(), `longrun-pgfaults-${options.label}-`));
    const pg = await startPrivatePostgres();
    let observer: RunObserver | null = null;
    try {
      observer = await RunObserver.open(pg.url, options.steps);
      const run = new FaultRun(options, pg, dir, observer);
      for (let i = 0; i < options.cliWorkers; i++) await run.spawnWorker();
      if (options.library) {
        const url = await run.#urlFor('library');
        run.library = new LibraryWorker({
          storeUrl: url,
          dir,
          leaseMs: options.leaseMs,
          livenessMs: options.libraryLivenessMs,
          toolMs: options.toolMs,
          concurrency: options.concurrency,
          ...(options.libraryQueryTimeoutMs === undefined
            ? {}
            : { queryTimeoutMs: options.libraryQueryTimeoutMs }),
        });
        await run.library.start();
      }
      await Promise.all(run.workers.map((w) => w.started()));
      return run;
    } catch (error) {
      await observer?.close();
      await pg.stop();
      throw error;
    }
  }

  /** Starts another `longrun worker` (through a new proxy of its own when proxied). */
  async spawnWorker(): Promise<CliWorker> {
    const name = `w${this.#spawned++}`;
    const o = this.options;
    const worker = new CliWorker({
      storeUrl: await this.#urlFor(name),
      name,
      dir: this.dir,
      leaseMs: o.leaseMs,
      toolMs: o.toolMs,
      concurrency: o.concurrency,
      ...(o.cliLivenessMs === undefined ? {} : { livenessMs: o.cliLivenessMs }),
      ...(o.cliNodeOptions === undefined ? {} : { nodeOptions: o.cliNodeOptions }),
      ...(o.cliArgs === undefined ? {} : { extraArgs: o.cliArgs }),
    });
    this.workers.push(worker);
    return worker;
  }

  live(): CliWorker[] {
    return this.workers.filter((w) => w.alive);
  }

  proxy(name: string): TcpFaultProxy {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) throw new Error(`no fault proxy for ${name}`);
    return proxy;
  }

  /** Keeps `activeSessions` sessions in progress for `forMs`. */
  feed(forMs: number): void {
    this.observer.start(this.options.activeSessions, forMs);
  }

  /** Lets every session finish (at most `drainMs`), then checks the invariants. */
  async finish(
    drainMs: number,
  ): Promise<{ verdict: RunVerdict; facts: RunFacts; drained: boolean }> {
    const drained = await this.observer.drained(drainMs);
    await this.observer.stop();
    const { events, records, checkpoints } = await this.observer.finalState();
    const deathNs = new Map<number, bigint>();
    for (const w of this.workers) if (w.exitedAtNs !== null) deathNs.set(w.pid, w.exitedAtNs);
    const facts: RunFacts = {
      sessions: this.observer.sessions,
      events,
      records,
      checkpoints,
      tools: readRecords(this.dir),
      acked: this.library?.acked ?? [],
      observed: this.observer.observed,
      deathNs,
      nowNs: process.hrtime.bigint(),
      unexpectedExits: this.workers.flatMap((w) => w.unexpectedExit() ?? []),
    };
    return { verdict: checkRun(facts), facts, drained };
  }

  /**
   * Stops every process and the cluster; removes the directory unless `keepDir` (or
   * LONGRUN_PGF_KEEP=1, to read the logs of a run that passed).
   */
  async close(failed: boolean): Promise<void> {
    const keepDir = failed || process.env.LONGRUN_PGF_KEEP === '1';
    await Promise.allSettled(this.workers.map((w) => w.stop(5_000)));
    await this.library?.stop().catch(() => undefined);
    await this.observer.close().catch(() => undefined);
    await Promise.allSettled([...this.proxies.values()].map((p) => p.close()));
    await this.pg.stop();
    if (keepDir) console.log(`[${this.options.label}] kept the run's directory: ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  async #urlFor(name: string): Promise<string> {
    if (!this.options.proxied) return this.pg.url;
    const proxy = await startTcpFaultProxy({
      targetPort: this.pg.port,
      seed: this.options.seed + this.proxies.size + 1,
    });
    this.proxies.set(name, proxy);
    return proxy.viaProxy(this.pg.url);
  }
}
