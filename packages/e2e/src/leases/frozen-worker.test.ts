import { describe, expect, it } from 'vitest';
import { openStore } from '@longrun/cli';
import { normalizeTranscript } from '@longrun/runtime';
import { targets } from '../store-targets.ts';
import { WorkerHandle } from '../crash/worker-handle.ts';
import { referenceTranscript, waitForStatus } from '../crash/reference-run.ts';
import { ledgerOf } from '../ledger/ledger-agent.ts';
import { expectedLedger, sortedByKey } from '../ledger/ledger-script.ts';

const input = { steps: 60, toolDelayMs: 5 };
const leaseMs = 600;

/**
 * A worker frozen with SIGSTOP past its lease, then thawed after another worker took over: it
 * stops the session by its own clock (the lease keeper's deadline, its liveness, the 50 ms watch)
 * or, if it gets a write in first, that write is rejected (its epoch is stale); none lands.
 */
for (const target of targets) {
  describe.runIf(target.run)(`a frozen worker, ${target.name}`, () => {
    it('is fenced after a takeover: none of its writes land', { timeout: 120_000 }, async () => {
      const reference = await referenceTranscript(target.make, input);
      const t = await target.make();
      const store = await openStore(t.url);
      try {
        const session = await store.createSession({ agent: 'ledger', input });
        const env = { LONGRUN_LEASE_MS: String(leaseMs) };
        const frozen = new WorkerHandle(t.url, 'frozen', t.dir, env);
        await frozen.until(() => frozen.acked.length >= 10, 20_000, '10 acks');
        frozen.child.kill('SIGSTOP');
        const frozenEpoch = (await store.getSession(session.id)).leaseEpoch;
        // Wait, by the store's clock, until the frozen worker's lease has lapsed.
        for (let i = 0; i < 500; i++) {
          const s = await store.getSession(session.id);
          if (s.leaseExpiresAtMs !== null && s.leaseExpiresAtMs <= (await store.nowMs())) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const taker = new WorkerHandle(t.url, 'taker', t.dir, env);
        await taker.until(() => taker.acked.length >= 5, 20_000, 'takeover acks');
        const takeoverSeq = Math.min(...taker.acked.map((a) => a.seq));
        frozen.child.kill('SIGCONT');
        await frozen.until(
          () =>
            frozen.ended.includes(`${session.id} stopped`) ||
            /LEASE_LOST|lease lost|fenced|not renewed|lapsed by its clock|could not confirm its liveness/.test(
              frozen.stderr,
            ),
          20_000,
          'a fenced write, or a stop by its own clock',
        );
        await waitForStatus(store, session.id, ['completed'], 60_000);
        await Promise.all([frozen.kill('SIGKILL'), taker.kill('SIGKILL')]);

        const events = await store.readEvents(session.id, 0, 100_000);
        const lateFromFrozen = events.filter((e) => e.seq >= takeoverSeq && e.epoch <= frozenEpoch);
        expect(lateFromFrozen, 'writes of the frozen worker after the takeover').toEqual([]);
        expect(frozen.acked.every((a) => a.seq < takeoverSeq)).toBe(true);
        const epochs = events.map((e) => e.epoch);
        expect(epochs).toEqual(epochs.slice().sort((a, b) => a - b));
        expect(normalizeTranscript(events)).toEqual(reference);
        expect(sortedByKey(ledgerOf(t.dir).applied()), 'keyed effects applied once each').toEqual(
          expectedLedger([session.id], input.steps),
        );
      } finally {
        await store.close();
        await t.drop();
      }
    });
  });
}
