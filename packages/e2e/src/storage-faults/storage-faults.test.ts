import { describe, expect, it } from 'vitest';
import { Worker, normalizeTranscript } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { SessionId, SessionStore } from '@longrun/core';
import { referenceTranscript } from '../crash/reference-run.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { targets } from '../store-targets.ts';
import { faultyStore } from './faulty-store.ts';
import { ledgerAgent, ledgerOf } from '../ledger/ledger-agent.ts';
import { expectedLedger, sortedByKey } from '../ledger/ledger-script.ts';

const sessions = 6;
const steps = 30;
const input = { steps, toolDelayMs: 2 };
const runs = Number(process.env.LONGRUN_STORAGE_FAULT_RUNS ?? 3);

/**
 * Storage calls that fail, or succeed and then report a failure, or report a failure and then
 * land (TESTING.md: "storage calls that fail, time out, or succeed and then report a timeout, at
 * 1–30 %"). Invariants: every run completes and is never parked; seq contiguous; transcript equal
 * to an uninterrupted run's; every keyed ledger entry applied (once, by the ledger's keys).
 */
for (const target of targets) {
  describe.runIf(target.run)(`storage faults at 1–30 %, ${target.name}`, () => {
    it(
      `${runs} runs of ${sessions} sessions complete with their transcripts intact`,
      { timeout: 600_000 },
      async () => {
        const seed = testSeed(`storage-faults-${target.name}`);
        const random = seededRandom(seed);
        const reference = await referenceTranscript(target.make, input);
        const injected: Record<string, number> = {};
        for (let run = 0; run < runs; run++) {
          const rate = 0.01 + random() * 0.29;
          const context = `seed=${seed} run=${run} rate=${rate.toFixed(3)}`;
          const t = await target.make();
          const real = await openStore(t.url);
          const { store, counts } = faultyStore(real, {
            random,
            rate,
            methods: [
              'append',
              'renewLease',
              'claimNext',
              'releaseLease',
              'getSession',
              'readEvents',
              'latestCheckpoint',
              'listEffects',
              'pendingSignals',
            ],
          });
          const worker = new Worker({
            store,
            agents: [ledgerAgent({ dir: t.dir })],
            pollMs: 5,
            leaseMs: 1_500,
          });
          try {
            const ids: SessionId[] = [];
            for (let i = 0; i < sessions; i++)
              ids.push((await real.createSession({ agent: 'ledger', input })).id);
            await worker.start();
            const parked = await waitAllCompleted(real, ids, 120_000);
            expect(parked, `${context}: sessions parked on a transient failure`).toEqual([]);
            for (const id of ids) {
              const events = await real.readEvents(id, 0, 100_000);
              expect(
                events.map((e) => e.seq),
                context,
              ).toEqual(events.map((_, i) => i + 1));
              expect(normalizeTranscript(events), `${context} ${id}`).toEqual(reference);
            }
            expect(
              sortedByKey(ledgerOf(t.dir).applied()),
              `${context}: keyed entries applied once each`,
            ).toEqual(expectedLedger(ids, steps));
            const total = Object.values(counts.faults).reduce((a, b) => a + b, 0);
            console.log(
              `[storage-faults-${target.name}] ${context}: ${counts.calls} calls, ${total} faults ${JSON.stringify(counts.faults)}`,
            );
            expect(total, `${context}: an all-pass run proves nothing`).toBeGreaterThan(0);
            for (const [kind, n] of Object.entries(counts.faults))
              injected[kind] = (injected[kind] ?? 0) + n;
          } finally {
            await worker.stop();
            await real.close();
            await t.drop();
          }
        }
        // Every kind of fault was made, over the runs.
        expect(
          Object.values(injected).every((n) => n > 0),
          JSON.stringify(injected),
        ).toBe(true);
      },
    );
  });
}

/** Waits until every session completed; returns those ever seen paused or failed. */
async function waitAllCompleted(
  store: SessionStore,
  ids: SessionId[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const bad = new Set<string>();
  for (;;) {
    const records = await store.getSessions(ids);
    for (const r of records)
      if (r.status === 'paused' || r.status === 'failed')
        bad.add(`${r.id} ${r.status}: ${r.statusReason}`);
    if (bad.size > 0 || records.every((r) => r.status === 'completed')) return [...bad];
    if (Date.now() > deadline) {
      const left = records
        .filter((r) => r.status !== 'completed')
        .map((r) => `${r.id} ${r.status}`);
      throw new Error(`not completed after ${timeoutMs} ms: ${left.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
