import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { restartRun } from './restart-run.ts';
import { tier, faultPeriodMs } from './tier.ts';

const faultMs = faultPeriodMs(60_000);
const options = {
  cliWorkers: tier(2, 4),
  activeSessions: tier(10, 30),
  steps: tier(20, 40),
  concurrency: tier(4, 8),
  /** The soak also restarts `-m fast` now and then. */
  fastShare: tier(0, 0.3),
};

/**
 * Postgres crash-restarted every 3–8 s (seeded) while sessions with keyed and unsafe tools run
 * on `longrun worker` processes and a library worker (restart-run.ts): every session completes,
 * no worker process exits, nothing committed is lost, no effect is duplicated, no two processes
 * are ever inside one session's tool window at once. The stall after each restart is printed.
 */
describeWithPrivatePostgres('Postgres crash-restarted under live workers', () => {
  it(
    `restarts -m immediate every 3–8 s for ${faultMs / 1000} s: every session completes, nothing lost or doubled`,
    { timeout: faultMs + 180_000 },
    async () => {
      const seed = testSeed('pg-restart');
      const r = await restartRun({ seed, faultMs, ...options });
      const downMs = r.restarts.map((x) => x.downMs).sort((a, b) => a - b);
      console.log(
        `[pg-restart] seed=${seed} restarts=${r.restarts.length} ` +
          `(${r.restarts.filter((x) => x.mode === 'fast').length} of them -m fast) ` +
          `downMs p50=${Math.round(downMs[Math.floor((downMs.length - 1) / 2)] ?? 0)} ` +
          `sessions=${r.facts.sessions.length} completed=${r.verdict.completed} ` +
          `stall=${JSON.stringify(r.stall)} interruptedUnsafe=${r.verdict.interruptedUnsafe} ` +
          `rerunKeyed=${r.verdict.rerunKeyed} checkpoints=${r.verdict.checkpoints} observed=${r.facts.observed.length} ` +
          `failedPolls=${r.failedPolls}`,
      );
      expect(r.verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
      expect(r.drained, `seed=${seed}: every session settles`).toBe(true);
      expect(r.restarts.length).toBeGreaterThanOrEqual(Math.floor(faultMs / 8_000));
      expect(r.facts.sessions.length).toBeGreaterThanOrEqual(options.activeSessions);
      expect(r.verdict.completed).toBe(r.facts.sessions.length);
      expect(r.verdict.checkpoints, 'checkpoints were read back against the log').toBeGreaterThan(
        0,
      );
      expect(r.liveWorkers, `seed=${seed}: no worker process exited`).toBe(options.cliWorkers);
      expect(r.stall.n, `seed=${seed}: commits resumed after restarts`).toBeGreaterThan(0);
    },
  );
});
