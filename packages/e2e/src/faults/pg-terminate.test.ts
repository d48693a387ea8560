import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { normalizeTranscript } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { pgUrl, postgresStatus, postgresTarget } from '../store-targets.ts';
import { WorkerHandle } from '../crash/worker-handle.ts';
import { referenceTranscript, waitForStatus } from '../crash/reference-run.ts';
import { ledgerOf } from '../ledger/ledger-agent.ts';
import { expectedLedger, sortedByKey } from '../ledger/ledger-script.ts';

const input = { steps: 80, toolDelayMs: 4 };

/**
 * The server drops the worker's connections (pg_terminate_backend) again and again mid-run: the
 * worker reconnects and finishes; the process never dies of an unhandled error; nothing is lost
 * or applied twice.
 */
describe.runIf(postgresStatus.ok)('Postgres connections terminated under a running worker', () => {
  it('reconnects and continues; the process survives', { timeout: 120_000 }, async () => {
    const reference = await referenceTranscript(postgresTarget, input);
    const t = await postgresTarget();
    const store = await openStore(t.url);
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    try {
      const session = await store.createSession({ agent: 'ledger', input });
      const worker = new WorkerHandle(t.url, 'terminated', t.dir, { LONGRUN_LEASE_MS: '3000' });
      await worker.until(() => worker.acked.length > 5, 20_000, 'first acks');
      let terminated = 0;
      for (
        let round = 0;
        round < 8 && (await store.getSession(session.id)).status !== 'completed';
        round++
      ) {
        const { rows } = await admin.query<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE application_name = 'longrun-crash-terminated' AND pid <> pg_backend_pid()`,
        );
        terminated += rows.filter((r) => r.killed).length;
        await new Promise((r) => setTimeout(r, 60));
      }
      await waitForStatus(store, session.id, ['completed'], 60_000);
      expect(worker.child.exitCode, `worker died:\n${worker.stderr.slice(-2000)}`).toBeNull();
      expect(terminated).toBeGreaterThan(0);
      await worker.kill('SIGTERM');
      const events = await store.readEvents(session.id, 0, 100_000);
      expect(normalizeTranscript(events)).toEqual(reference);
      expect(sortedByKey(ledgerOf(t.dir).applied()), 'keyed effects applied once each').toEqual(
        expectedLedger([session.id], input.steps),
      );
      console.log(
        `[pg-terminate] terminated ${terminated} backends; session completed at seq ${events.length}`,
      );
    } finally {
      await admin.end();
      await store.close();
      await t.drop();
    }
  });
});
