/**
 * A worker thread that races for claims. The parent posts `{ sessionId }` and then bumps a shared
 * "go" word; every thread blocks on that word with Atomics.wait, so all of them call claim() at
 * the same instant, each through its own connection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { workerId } from '@longrun/core';
import { openStore } from '@longrun/cli';

if (parentPort === null) throw new Error('claim-racer runs as a worker thread');
const port = parentPort;
const { url, index, go } = workerData as { url: string; index: number; go: Int32Array };
const store = await openStore(url, { poolSize: 1 });
const owner = workerId(`racer-${index}`);
let generation = 0;
port.on(
  'message',
  (message: { sessionId?: string; stop?: boolean; skip?: boolean; leaseMs: number }) => {
    if (message.stop) {
      void store.close().then(() => process.exit(0));
      return;
    }
    generation++;
    Atomics.wait(go, 0, generation - 1);
    if (message.skip) return port.postMessage({ index, epoch: null, skipped: true });
    store
      .claim(message.sessionId as never, owner, message.leaseMs)
      .then((lease) => port.postMessage({ index, epoch: lease?.epoch ?? null }))
      .catch((error: unknown) => port.postMessage({ index, error: (error as Error).message }));
  },
);
port.postMessage({ ready: index });
