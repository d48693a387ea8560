import { workerId } from '@longrun/core';
import { Worker, type AgentDefinition } from '@longrun/runtime';
import { openStore } from '@longrun/cli';

/**
 * The worker of a worker process that a kill -9 test spawns (see SpawnedWorker): it runs
 * `agents` on the store at `storeUrl` with a 1 s lease, so a successor takes over soon after a
 * kill, and reports on stdout, one line each: `ack <seq> <type>` for every acknowledged event,
 * then `ready` once started. Its log goes to stderr. SIGTERM stops it cleanly.
 */
export async function startReportingWorker(options: {
  storeUrl: string;
  id: string;
  agents: AgentDefinition[];
  /** Names its database connections, e.g. `reasoning`. */
  purpose: string;
}): Promise<void> {
  const { storeUrl, id, agents, purpose } = options;
  const store = await openStore(storeUrl, { applicationName: `longrun-${purpose}-${id}` });
  const worker = new Worker({ store, workerId: workerId(id), agents, leaseMs: 1_000, pollMs: 20 });
  worker.on('events.committed', ({ events }) => {
    for (const e of events) process.stdout.write(`ack ${e.seq} ${e.type}\n`);
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
}
