import { expect } from 'vitest';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { until } from '../schedules/schedule-workers.ts';
import { ledgerOf } from './ledger-agent.ts';
import { expectedLedger, sortedByKey } from './ledger-script.ts';

/**
 * A finished ledger run checked whole after a fault: seqs without a gap, every event the worker
 * was told was committed in the log as it was told, and each keyed effect of the `steps` applied
 * once in the ledger under `ledgerDir`. Returns the log.
 */
export async function expectLedgerRunWhole(
  store: SessionStore,
  sessionId: SessionId,
  acked: readonly StoredEvent[],
  ledgerDir: string,
  steps: number,
): Promise<StoredEvent[]> {
  const events = await store.readEvents(sessionId, 0, 100_000);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  for (const a of acked) {
    expect(JSON.stringify(events[a.seq - 1]?.data), `event ${a.seq}`).toBe(JSON.stringify(a.data));
  }
  expect(sortedByKey(ledgerOf(ledgerDir).applied()), 'keyed effects applied once each').toEqual(
    expectedLedger([sessionId], steps),
  );
  return events;
}

/** Waits (bounded) until the session is `completed`; a read the store cannot answer counts as not yet. */
export async function untilSessionCompletes(
  store: SessionStore,
  sessionId: SessionId,
  withinMs: number,
): Promise<void> {
  await until(
    'the session completes',
    () =>
      store.getSession(sessionId).then(
        (s) => s.status === 'completed',
        () => false,
      ),
    withinMs,
  );
}
