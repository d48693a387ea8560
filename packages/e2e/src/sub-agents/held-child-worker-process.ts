/**
 * A worker process that runs the `child` agent of held-child-agents.ts: `node
 * held-child-worker-process.ts <storeUrl> <workerId> <dir>`. With LONGRUN_DIE_ON_PAUSE=1 it
 * SIGKILLs itself the moment the store acknowledges a pause (a `gate.decided` that pauses): after
 * the pause is committed, before the child could tell its parent. Prints `ready` once started.
 */
import { workerId } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { childAgent } from './held-child-agents.ts';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const dieOnPause = process.env.LONGRUN_DIE_ON_PAUSE === '1';

const store = await openStore(storeUrl, { applicationName: `longrun-held-child-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [childAgent(dir)],
  leaseMs: 2_000,
  pollMs: 20,
});
worker.on('events.committed', ({ events }) => {
  for (const e of events)
    if (dieOnPause && e.type === 'gate.decided' && e.data.decision === 'pause')
      process.kill(process.pid, 'SIGKILL');
});
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
