/**
 * A worker process for crash tests: `node worker-process.ts <storeUrl> <workerId> <dir>`.
 * Runs the ledger agent (ledger/ledger-agent.ts) and reports on stdout, one line each:
 *   `ready`                      after start-up (registration and reclaim done)
 *   `ack <sessionId> <seq>`      for every event the store acknowledged
 *   `ended <sessionId> <outcome>`
 * Test harnesses kill it with SIGKILL at random instants, or freeze it with SIGSTOP.
 */
import { workerId } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { ledgerAgent } from '../ledger/ledger-agent.ts';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const leaseMs = Number(process.env.LONGRUN_LEASE_MS ?? 2_000);
const pollMs = Number(process.env.LONGRUN_POLL_MS ?? 20);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const store = await openStore(storeUrl, { applicationName: `longrun-crash-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [ledgerAgent({ dir })],
  leaseMs,
  pollMs,
  checkpointEvery: Number(process.env.LONGRUN_CHECKPOINT_EVERY ?? 16),
});
worker.on('events.committed', ({ events }) => {
  for (const e of events) out(`ack ${e.sessionId} ${e.seq}`);
});
worker.on('session.ended', ({ sessionId, outcome }) => out(`ended ${sessionId} ${outcome}`));
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
out('ready');
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
