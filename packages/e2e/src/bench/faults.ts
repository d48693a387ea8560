import { privatePostgresProblem } from '../faults/postgres-install.ts';
import { restartRun } from '../pg-faults/restart-run.ts';

/**
 * `faults.pgRestart`: Postgres crash-restarted every 3–8 s for 60 s (30 s quick) on a private
 * cluster while 10 sessions with keyed and unsafe tools run on two `longrun worker` processes and
 * a library worker (pg-faults/restart-run.ts). Targets here: every session completes, no
 * duplicated effect, no overlapping holders, stall p50 ≤ 1.5 s after Postgres accepts
 * connections again. The seed is printed on stderr; LONGRUN_SEED repeats it.
 */
export async function measurePgRestart(options: { quick: boolean }) {
  const problem = privatePostgresProblem();
  if (problem !== null) return { skipped: problem };
  const seed = Number(process.env.LONGRUN_SEED ?? Math.floor(Math.random() * 2 ** 31));
  process.stderr.write(`[bench] faults.pgRestart seed=${seed}\n`);
  const r = await restartRun({
    seed,
    faultMs: options.quick ? 30_000 : 60_000,
    cliWorkers: 2,
    activeSessions: 10,
    steps: 20,
    concurrency: 4,
  });
  const downMs = r.restarts.map((x) => x.downMs).sort((a, b) => a - b);
  return {
    restarts: r.restarts.length,
    sessions: r.facts.sessions.length,
    completed: r.verdict.completed,
    stallP50Ms: r.stall.p50Ms,
    stallMaxMs: r.stall.maxMs,
    duplicateEffects: r.verdict.duplicateEffects,
    overlappingHolders: r.verdict.overlappingHolders,
    seed,
    restartsWithoutCommitBeforeNext: r.stall.censored,
    downMsP50: Math.round(downMs[Math.floor((downMs.length - 1) / 2)] ?? Number.NaN),
    workerProcessesExited: 2 - r.liveWorkers,
    violations: r.verdict.violations.length,
  };
}
