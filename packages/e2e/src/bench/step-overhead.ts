import { Worker, ledgerProgram } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { SessionStore } from '@longrun/core';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { round, summary } from './stats.ts';
import { storeBytes } from './store-size.ts';

/** Steps measured per session length: enough sessions of that length to add up to this many. */
const measuredSteps = 800;
/** Steps of the unrecorded session each store runs first. */
const warmUpSteps = 300;

/**
 * Runtime overhead per step: a step's wall time minus the time spent in the model (zero-latency
 * scripted) and in the tool (one file append). What is left is longrun's own work: two fsync'd
 * commits, the fold, the lease and the bookkeeping. Also the bytes the store grew per step.
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
    const overheadsMs: number[] = [];
    const worker = new Worker({
      store,
      programs: [fileAppendingProgram(target.dir)],
      pollMs: 2,
    });
    worker.on('step.timed', (t) => overheadsMs.push(t.totalMs - t.modelMs - t.toolMs));
    await worker.start();
    await runSession(store, warmUpSteps);
    overheadsMs.length = 0;
    const sessions = Math.max(1, Math.ceil(measuredSteps / steps));
    const before = await storeBytes(store, target.url);
    for (let i = 0; i < sessions; i++) await runSession(store, steps);
    const after = await storeBytes(store, target.url);
    await worker.stop();
    return {
      steps,
      sessions,
      overheadMs: summary(overheadsMs),
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

/** The peers' workload: every step appends one line to a work file (the `work.append` tool). */
function fileAppendingProgram(dir: string) {
  const program = ledgerProgram({ dir });
  return {
    ...program,
    decide: async (state: Parameters<typeof program.decide>[0]) => {
      const d = await program.decide(state);
      if (d.kind !== 'tool-calls') return d;
      return {
        ...d,
        toolCalls: [{ tool: 'work.append', args: { line: `step ${state.steps + 1}` } }],
      };
    },
  };
}
