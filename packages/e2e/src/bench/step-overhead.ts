import { Worker, ledgerProgram } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { round, summary } from './stats.ts';
import { storeBytes } from './store-size.ts';

/**
 * Runtime overhead per step: a step's wall time minus the time spent in the model (zero-latency
 * scripted) and in the tool (one file append). What is left is longrun's own work: two fsync'd
 * commits, the fold, the lease and the bookkeeping. Also the bytes the store grew per step.
 */
export async function measureStepOverhead(make: () => Promise<StoreTarget>, steps: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const overheadsMs: number[] = [];
    const session = await store.createSession({ agent: 'ledger', input: { steps } });
    const before = await storeBytes(store, target.url);
    const program = ledgerProgram({ dir: target.dir });
    // Every step appends to a work file (the peers' workload): use work.append for all steps.
    const fileAppendOnly = {
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
    const worker = new Worker({
      store,
      programs: [fileAppendOnly],
      pollMs: 2,
      hooks: { onStepTimed: (t) => overheadsMs.push(t.totalMs - t.modelMs - t.toolMs) },
    });
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const after = await storeBytes(store, target.url);
    return {
      steps,
      overheadMs: summary(overheadsMs),
      bytesPerStep: round((after - before) / steps, 0),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}
