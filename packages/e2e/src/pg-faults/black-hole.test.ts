import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { blackHole, heldBy, lateWrites, type BlackHoleReport } from './black-hole.ts';
import { faultPeriodMs, sleep, tier } from './tier.ts';

const leaseMs = 3_000;
/** Two in the PR tier; in the soak, one per 25 s of LONGRUN_SOAK_S. */
const rounds = tier(2, Math.max(2, Math.round(faultPeriodMs(0) / 25_000)));

/**
 * One `longrun worker` partitioned from Postgres (a black hole in its own fault proxy) for longer
 * than the lease TTL and its liveness (`--lease-ms 3000 --liveness-ms 3000`), while another worker process
 * and a library worker keep running. Its sessions are taken over; then the partition ends, either
 * delivering every byte it held (its stale writes reach Postgres after the takeover and must all
 * be rejected) or with a reset (a partition that outlasts TCP). It must not exit, and must
 * work again afterwards; every run invariant holds (fault-invariants.ts).
 */
describeWithPrivatePostgres('a longrun worker black-holed past its lease', () => {
  it(
    `${rounds} black holes (held bytes delivered, then reset): the stale worker's writes are rejected, none lands`,
    { timeout: 240_000 + rounds * 30_000 },
    async () => {
      const seed = testSeed('black-hole');
      const run = await FaultRun.start({
        label: 'black-hole',
        seed,
        cliWorkers: 2,
        library: true,
        proxied: true,
        leaseMs,
        libraryLivenessMs: 3_000,
        cliLivenessMs: 3_000,
        activeSessions: 10,
        steps: 20,
        toolMs: [100, 400],
        concurrency: 4,
      });
      let passed = false;
      try {
        run.feed(rounds * 30_000);
        const reports: BlackHoleReport[] = [];
        for (let round = 0; round < rounds; round++) {
          const victim = run.workers[round % 2]!;
          const holding = await waitUntilHolding(run, victim.workerId ?? '', 2);
          expect(holding, `seed=${seed}: ${victim.name} holds sessions before its black hole`).toBe(
            true,
          );
          const report = await blackHole(run, victim, {
            minMs: 6_000,
            maxMs: 20_000,
            afterTakeoverMs: 1_500,
            inToolWithinMs: 10_000,
            end: round % 2 === 0 ? 'deliver' : 'reset',
          });
          reports.push(report);
          console.log(
            `[black-hole] seed=${seed} round ${round}: ${victim.name} held ${report.held.size} sessions; ` +
              `takeover ms ${report.takeoverMs.map((t) => Math.round(t)).join(', ')}; ` +
              `${report.heldBytes} bytes held, ${report.end === 'deliver' ? 'delivered' : 'dropped by a reset'}; ` +
              `began in a tool run: ${report.inTool}; writes Postgres refused as stale after: ${report.staleRejections.length}` +
              (report.staleRejections[0] === undefined
                ? ''
                : `, e.g. ${report.staleRejections[0]}`),
          );
        }
        const { verdict, facts, drained } = await run.finish(120_000);
        const late = reports.flatMap((r) => lateWrites(r, facts.events));
        const rejected = run.workers.map((w) => w.logLines(/is stale|LEASE_LOST|fenced/).length);
        const backToWork = reports.map(
          (r) =>
            facts.tools.windows.filter(
              (w) =>
                w.pid === run.workers.find((x) => x.name === r.worker)?.pid &&
                w.startWallMs > r.healedAtMs,
            ).length,
        );
        console.log(
          `[black-hole] seed=${seed} sessions=${facts.sessions.length} completed=${verdict.completed} ` +
            `interruptedUnsafe=${verdict.interruptedUnsafe} rerunKeyed=${verdict.rerunKeyed} ` +
            `fenced log lines per worker=${rejected.join('/')} tool runs after healing=${backToWork.join('/')}`,
        );
        expect(verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
        expect(drained, `seed=${seed}: every session settles`).toBe(true);
        for (const r of reports) {
          expect(r.notTakenOver, `seed=${seed}: ${r.worker}'s sessions taken over`).toEqual([]);
          expect(r.heldBytes, `seed=${seed}: the black hole held bytes`).toBeGreaterThan(0);
          expect(r.inTool, `seed=${seed}: ${r.worker} was inside a tool run`).toBe(true);
          // Delivered held bytes usually carry a stale write (a renewal, an append) that Postgres
          // refuses. Not always: a tool that sees holding() turn false records no result, so the
          // worker may have had nothing in flight. What must hold either way is that none of its
          // writes landed after the takeover (below).
          if (r.end === 'deliver' && r.staleRejections.length === 0)
            console.log(`[black-hole] seed=${seed}: ${r.worker} had no stale write in flight`);
        }
        expect(
          late.map((e) => `${e.sessionId} ${e.seq} ${e.type}@${e.epoch}`),
          `seed=${seed}: writes of a black-holed worker that landed after its sessions were taken over`,
        ).toEqual([]);
        expect(run.live().length, `seed=${seed}: no worker process exited`).toBe(2);
        expect(
          backToWork.every((n) => n > 0),
          `seed=${seed}: each black-holed worker works again after healing`,
        ).toBe(true);
        passed = true;
      } finally {
        await run.close(!passed);
      }
    },
  );
});

/** Waits (bounded) until `workerId` holds at least `count` sessions. */
async function waitUntilHolding(run: FaultRun, workerId: string, count: number): Promise<boolean> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if ((await heldBy(run, workerId)).size >= count) return true;
    await sleep(100);
  }
  return false;
}
