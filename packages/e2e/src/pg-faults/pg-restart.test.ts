import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import type { RestartReport } from '../faults/private-postgres.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { stallSummary, stallsAfter } from './stall.ts';
import { eventually, sleep, tier } from './tier.ts';

const faultMs = tier(60_000, 600_000);
const options = {
  cliWorkers: tier(2, 4),
  activeSessions: tier(10, 30),
  steps: tier(20, 40),
  concurrency: tier(4, 8),
};

/**
 * Postgres crash-restarted (`pg_ctl restart -m immediate`: SIGQUIT to the postmaster, WAL
 * recovery on start) every 3–8 s (seeded) while sessions with keyed and unsafe tools run on
 * `longrun worker` processes and a library worker: every session completes, no worker process
 * exits, nothing committed is lost, no effect is duplicated, no two processes are ever inside one
 * session's tool window at once. The stall after each restart is measured and printed.
 */
describeWithPrivatePostgres('Postgres crash-restarted under live workers', () => {
  it(
    `restarts -m immediate every 3–8 s for ${faultMs / 1000} s: every session completes, nothing lost or doubled`,
    { timeout: faultMs + 180_000 },
    async () => {
      const seed = testSeed('pg-restart');
      const random = seededRandom(seed);
      const run = await FaultRun.start({
        label: 'pg-restart',
        seed,
        library: true,
        proxied: false,
        leaseMs: 3_000,
        libraryLivenessMs: 3_000,
        toolMs: [100, 400],
        ...options,
      });
      let passed = false;
      try {
        run.feed(faultMs);
        const warm = await eventually(() => run.observer.observed.length >= 30, 30_000);
        expect(warm, 'the workers commit before the faults start').toBe(true);
        const restarts: RestartReport[] = [];
        const signalledAtMs: number[] = [];
        const deadline = performance.now() + faultMs;
        while (performance.now() < deadline && restarts.length < 1_000) {
          await sleep(3_000 + Math.floor(random() * 5_000));
          signalledAtMs.push(Date.now());
          restarts.push(await run.pg.restart({ mode: 'immediate' }));
        }
        const { verdict, facts, drained } = await run.finish(120_000);
        const commits = [...facts.events.values()].flat().map((e) => e.atMs);
        const accepted = restarts.map((r) => r.acceptedAtMs);
        const stalls = stallSummary(
          stallsAfter(accepted, [...signalledAtMs.slice(1), Date.now()], commits),
        );
        console.log(
          `[pg-restart] seed=${seed} restarts=${restarts.length} downMs p50=${median(restarts.map((r) => r.downMs))} ` +
            `sessions=${facts.sessions.length} completed=${verdict.completed} stall=${JSON.stringify(stalls)} ` +
            `interruptedUnsafe=${verdict.interruptedUnsafe} rerunKeyed=${verdict.rerunKeyed} ` +
            `observed=${facts.observed.length} failedPolls=${run.observer.failedPolls}`,
        );
        expect(verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
        expect(drained, `seed=${seed}: every session settles`).toBe(true);
        expect(restarts.length).toBeGreaterThanOrEqual(Math.floor(faultMs / 8_000));
        expect(facts.sessions.length).toBeGreaterThanOrEqual(options.activeSessions);
        expect(verdict.completed).toBe(facts.sessions.length);
        expect(run.live().length, 'no worker process exited').toBe(options.cliWorkers);
        passed = true;
      } finally {
        await run.close(!passed);
      }
    },
  );
});

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return Math.round(sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN);
}
