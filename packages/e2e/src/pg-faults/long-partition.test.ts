import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { eventually, sleep, tier } from './tier.ts';

/** Longer than the store's query timeout (30 s), the lease (3 s) and every liveness. */
const partitionMs = tier(35_000, 120_000);

/**
 * Every worker — two `longrun worker` processes and a library worker — cut off from Postgres at
 * once for longer than the store's query timeout: queries in flight time out, leases lapse,
 * every worker doubts its liveness. Then the network heals, delivering what it held (stale
 * writes, refused). No worker exits, every session completes, and every run invariant holds.
 */
describeWithPrivatePostgres(
  'every worker partitioned from Postgres for longer than a query may take',
  () => {
    it(
      `a ${partitionMs / 1000} s partition of all workers: no exit, every session completes`,
      { timeout: partitionMs + 180_000 },
      async () => {
        const seed = testSeed('long-partition');
        const run = await FaultRun.start({
          label: 'long-partition',
          seed,
          cliWorkers: 2,
          library: true,
          proxied: true,
          leaseMs: 3_000,
          libraryLivenessMs: 3_000,
          cliLivenessMs: 3_000,
          activeSessions: 10,
          steps: 12,
          toolMs: [100, 400],
          concurrency: 4,
        });
        let passed = false;
        try {
          run.feed(partitionMs + 20_000);
          expect(await eventually(() => run.observer.observed.length >= 30, 30_000)).toBe(true);
          const proxies = [...run.proxies.values()];
          for (const p of proxies) p.mode('blackhole');
          await sleep(partitionMs);
          const heldBytes = proxies.reduce((n, p) => n + p.stats().heldBytes, 0);
          for (const p of proxies) p.mode('pass');
          const healedAt = Date.now();
          const firstCommitAfter = await eventually(
            () => run.observer.observed.some((e) => e.atMs >= healedAt),
            30_000,
          );
          const resumedMs = Date.now() - healedAt;
          await sleep(5_000);
          const { verdict, facts, drained } = await run.finish(120_000);
          const stderr = run.workers.map(
            (w) => w.logLines(/Query read timeout|stopped by an error/).length,
          );
          console.log(
            `[long-partition] seed=${seed} ${heldBytes} bytes held over ${partitionMs} ms; ` +
              `commits resumed ${firstCommitAfter ? `within ${resumedMs} ms` : 'NOT within 30 s'} of healing; ` +
              `sessions=${facts.sessions.length} completed=${verdict.completed} ` +
              `interruptedUnsafe=${verdict.interruptedUnsafe} query-timeout log lines per worker=${stderr.join('/')}`,
          );
          expect(verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
          expect(drained, `seed=${seed}: every session settles`).toBe(true);
          expect(firstCommitAfter, `seed=${seed}: commits resume after healing`).toBe(true);
          expect(run.live().length, `seed=${seed}: no worker process exited`).toBe(2);
          passed = true;
        } finally {
          await run.close(!passed);
        }
      },
    );
  },
);
