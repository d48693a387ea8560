import { performance } from 'node:perf_hooks';
import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { round } from './stats.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';

/**
 * Steps per second of one worker running `sessions` sessions of the ledger agent at once,
 * zero-latency model and tools.
 */
export async function measureThroughput(
  make: () => Promise<StoreTarget>,
  sessions: number,
  stepsEach: number,
) {
  const target = await make();
  const store = await openStore(target.url, { poolSize: Math.min(32, sessions + 2) });
  try {
    const ids = [];
    for (let i = 0; i < sessions; i++)
      ids.push((await store.createSession({ agent: 'ledger', input: { steps: stepsEach } })).id);
    const worker = new Worker({
      store,
      agents: [ledgerAgent({ dir: target.dir })],
      concurrency: sessions,
      pollMs: 2,
    });
    const startedAt = performance.now();
    await worker.start();
    for (const id of ids) await waitForStatus(store, id, ['completed'], 600_000);
    const seconds = (performance.now() - startedAt) / 1000;
    await worker.stop();
    return {
      sessions,
      steps: sessions * stepsEach,
      seconds: round(seconds),
      stepsPerSecond: round((sessions * stepsEach) / seconds, 0),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}
