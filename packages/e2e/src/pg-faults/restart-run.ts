import type { RestartReport } from '../faults/private-postgres.ts';
import { seededRandom } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import type { RunFacts, RunVerdict } from './fault-invariants.ts';
import { stallSummary, stallsAfter } from './stall.ts';
import { eventually, sleep } from './tier.ts';

export interface RestartRunOptions {
  seed: number;
  /** How long Postgres is crash-restarted, every 3–8 s (seeded), ms. */
  faultMs: number;
  cliWorkers: number;
  activeSessions: number;
  steps: number;
  concurrency: number;
  /** Share of restarts done `-m fast` (a clean shutdown that ends every connection) instead. */
  fastShare?: number;
}

export interface RestartRunResult {
  verdict: RunVerdict;
  facts: RunFacts;
  drained: boolean;
  restarts: RestartReport[];
  stall: ReturnType<typeof stallSummary>;
  /** Worker processes still alive at the end (none may have exited). */
  liveWorkers: number;
  failedPolls: number;
}

/**
 * Postgres crash-restarted (`pg_ctl restart -m immediate`: SIGQUIT to the postmaster, WAL
 * recovery on start) every 3–8 s while sessions run on `longrun worker` processes and a library
 * worker; then every session is let finish and the run is checked. The stall after each restart
 * is the time from the server accepting connections again to the next commit of any session.
 * Shared by pg-restart.test.ts (which asserts) and the bench (which reports).
 */
export async function restartRun(options: RestartRunOptions): Promise<RestartRunResult> {
  const random = seededRandom(options.seed);
  const run = await FaultRun.start({
    label: 'pg-restart',
    seed: options.seed,
    cliWorkers: options.cliWorkers,
    library: true,
    proxied: false,
    leaseMs: 3_000,
    libraryLivenessMs: 3_000,
    activeSessions: options.activeSessions,
    steps: options.steps,
    toolMs: [100, 400],
    concurrency: options.concurrency,
  });
  let passed = false;
  try {
    run.feed(options.faultMs);
    if (!(await eventually(() => run.observer.observed.length >= 30, 30_000))) {
      throw new Error('the workers committed nothing before the restarts began');
    }
    const restarts: RestartReport[] = [];
    const signalledAtMs: number[] = [];
    const deadline = performance.now() + options.faultMs;
    while (performance.now() < deadline && restarts.length < 1_000) {
      await sleep(3_000 + Math.floor(random() * 5_000));
      signalledAtMs.push(Date.now());
      const fastShare = options.fastShare ?? 0;
      const mode = fastShare > 0 && random() < fastShare ? 'fast' : 'immediate';
      restarts.push(await run.pg.restart({ mode }));
    }
    const { verdict, facts, drained } = await run.finish(120_000);
    const commits = [...facts.events.values()].flat().map((e) => e.atMs);
    const accepted = restarts.map((r) => r.acceptedAtMs);
    const until = [...signalledAtMs.slice(1), Date.now()];
    const stall = stallSummary(stallsAfter(accepted, until, commits));
    passed = verdict.violations.length === 0 && drained;
    return {
      verdict,
      facts,
      drained,
      restarts,
      stall,
      liveWorkers: run.live().length,
      failedPolls: run.observer.failedPolls,
    };
  } finally {
    await run.close(!passed);
  }
}
