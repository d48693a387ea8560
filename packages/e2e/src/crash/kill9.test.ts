import { describe, expect, it } from 'vitest';
import { normalizeTranscript } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { targets } from '../store-targets.ts';
import { WorkerHandle } from './worker-handle.ts';
import { referenceTranscript } from './reference-run.ts';
import { ledgerOf } from '../ledger/ledger-agent.ts';
import { expectedLedger, sortedByKey } from '../ledger/ledger-script.ts';

const runs = Number(process.env.LONGRUN_KILL_RUNS ?? 10);
const killsPerRun = Number(process.env.LONGRUN_KILLS_PER_RUN ?? 5);
const steps = 50;
const input = { steps, toolDelayMs: 3 };

/**
 * Invariants protected: transcript equality with an uninterrupted run, no acknowledged event
 * lost, seq contiguous, no keyed effect applied twice (counted by a ledger outside longrun),
 * every run finishes.
 */
for (const target of targets) {
  describe.runIf(target.run)(`kill -9 of the worker, ${target.name}`, () => {
    it(
      `survives ${runs * killsPerRun} kills over ${runs} runs of ${steps} steps`,
      { timeout: 600_000 },
      async () => {
        const seed = testSeed(`kill9-${target.name}`);
        const random = seededRandom(seed);
        const reference = await referenceTranscript(target.make, input);
        let midRunKills = 0;
        const takeoversMs: number[] = [];
        for (let run = 0; run < runs; run++) {
          const t = await target.make();
          const store = await openStore(t.url);
          try {
            const session = await store.createSession({ agent: 'ledger', input });
            const acked = new Set<number>();
            for (let k = 0; k < killsPerRun; k++) {
              // SQLite: the restarted process reclaims its own sessions at boot. Postgres: a new
              // worker takes over because the dead one's connection-scoped lock is gone.
              const id = target.name === 'sqlite' ? 'crash-worker' : `crash-worker-${run}-${k}`;
              const startedAt = Date.now();
              const worker = new WorkerHandle(t.url, id, t.dir);
              await worker.until(() => worker.acked.length > 0, 20_000, 'first ack');
              if (k > 0) takeoversMs.push(Date.now() - startedAt);
              await new Promise((r) => setTimeout(r, random() * 25));
              await worker.kill('SIGKILL');
              worker.acked.forEach((a) => acked.add(a.seq));
              if ((await store.getSession(session.id)).status !== 'completed') midRunKills++;
            }
            const finisher = new WorkerHandle(
              t.url,
              target.name === 'sqlite' ? 'crash-worker' : `finisher-${run}`,
              t.dir,
            );
            await finisher.until(
              () => finisher.ended.some((e) => e.startsWith(`${session.id} completed`)),
              60_000,
              'completion',
            );
            finisher.acked.forEach((a) => acked.add(a.seq));
            await finisher.kill('SIGTERM');

            const events = await store.readEvents(session.id, 0, 100_000);
            const context = `seed=${seed} run=${run}`;
            expect(
              events.map((e) => e.seq),
              context,
            ).toEqual(events.map((_, i) => i + 1));
            expect(
              [...acked].filter((seq) => seq > events.length),
              `${context}: acknowledged events lost`,
            ).toEqual([]);
            expect(normalizeTranscript(events), context).toEqual(reference);
            expect(
              sortedByKey(ledgerOf(t.dir).applied()),
              `${context}: keyed effects applied once each`,
            ).toEqual(expectedLedger([session.id], steps));
          } finally {
            await store.close();
            await t.drop();
          }
        }
        console.log(
          `[kill9-${target.name}] ${midRunKills} mid-run kills; restart-to-first-ack ms: median ${median(takeoversMs)}`,
        );
        expect(midRunKills).toBe(runs * killsPerRun);
      },
    );
  });
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
