import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { SessionStore } from '@longrun/core';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { round, summary } from './stats.ts';
import { storeBytes } from './store-size.ts';
import { StepTimer } from './step-timing.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';

/** Steps measured per session length: enough sessions of that length to add up to this many. */
const measuredSteps = 800;
/** Steps of the unrecorded session each store runs first. */
const warmUpSteps = 300;

/**
 * Runtime overhead per step of the ledger agent: a step's wall time minus the time spent in the
 * model (zero-latency scripted) and in the tool (one file append, the peers' workload). What is
 * left is longrun's own work: two fsync'd commits, the fold, the transcript, the gates, the lease
 * and the bookkeeping. Also the bytes the store grew per step.
 *
 * Measured as a store in service sees it: each length runs in a store that has already run an
 * unrecorded session (its WAL or relations past their first growth, which a fresh file pays once
 * and no later session pays again), and as enough sessions of that length to make 800 steps,
 * one after the other, so that per-session costs (the session row, its first and last events,
 * its checkpoint) are charged to its steps while 8 kB page rounding is not.
 */
export async function measureStepOverhead(make: () => Promise<StoreTarget>, steps: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const timer = new StepTimer();
    const worker = new Worker({
      store,
      agents: [timer.timed(ledgerAgent({ dir: target.dir, calls: 'append' }))],
      pollMs: 2,
    });
    timer.watch(worker);
    await worker.start();
    await runSession(store, warmUpSteps);
    timer.clear();
    const sessions = Math.max(1, Math.ceil(measuredSteps / steps));
    const before = await storeBytes(store, target.url);
    for (let i = 0; i < sessions; i++) await runSession(store, steps);
    const after = await storeBytes(store, target.url);
    await worker.stop();
    return {
      steps,
      sessions,
      overheadMs: summary(timer.overheadsMs()),
      bytesPerStep: round((after - before) / (steps * sessions), 0),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}

async function runSession(store: SessionStore, steps: number): Promise<void> {
  const session = await store.createSession({ agent: 'ledger', input: { steps } });
  await waitForStatus(store, session.id, ['completed'], 300_000);
}
