/**
 * A worker process running the peer agent (peer-agent.ts), for the peer workload's restart
 * figure: `node peer-worker-process.ts <storeUrl> <workerId> <dir>`, spawned through the crash
 * suite's WorkerHandle. It is what a library user's worker is — open the store, start a Worker —
 * so its start-up time is theirs. Reports on stdout, one line each:
 *   `ready`                  after start-up (registration and reclaim done)
 *   `ack <sessionId> <seq>`  for every committed `model.responded`: a step done, not every event
 * With LONGRUN_PEER_LINE_TAG=pid, the lines its model asks for carry its process id.
 */
import { workerId } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { peerAgent } from './peer-agent.ts';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const store = await openStore(storeUrl, { applicationName: `longrun-peer-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [
    peerAgent({
      dir,
      ...(process.env.LONGRUN_PEER_LINE_TAG === 'pid' ? { lineTag: `pid${process.pid}` } : {}),
    }),
  ],
  leaseMs: Number(process.env.LONGRUN_LEASE_MS ?? 2_000),
  pollMs: Number(process.env.LONGRUN_POLL_MS ?? 20),
});
worker.on('events.committed', ({ events }) => {
  for (const e of events) if (e.type === 'model.responded') out(`ack ${e.sessionId} ${e.seq}`);
});
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
out('ready');
