/**
 * A worker process running the long-session agent against a wire server, for the kill -9 during
 * compaction test:
 * `node compaction-worker-process.ts <storeUrl> <workerId> <dir> <baseURL> <shape JSON> <block>`.
 *
 * With `block` = 1, the summary model blocks after its call has returned the summary — before the
 * harness can append `context.compacted` — until `<dir>/gate` exists, so a test can kill the
 * worker exactly there. Reports on stdout, one line each: `ready`, `ack <seq> <type>` for every
 * acknowledged event, `summarized <n>` when a summary call has returned.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { workerId, type ModelClient } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { longSessionAgent, wireModel, type LongSessionShape } from './long-session.ts';

const [storeUrl = '', id = '', dir = '', baseURL = '', shapeJson = '{}', block = '0'] =
  process.argv.slice(2);
const shape = JSON.parse(shapeJson) as LongSessionShape;
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const summaries = wireModel(baseURL, shape.protocol);
let summarized = 0;
const blockingSummaries: ModelClient = {
  id: summaries.id,
  async stream(request, onTextDelta) {
    const response = await summaries.stream(request, onTextDelta);
    out(`summarized ${++summarized}`);
    while (block === '1' && !existsSync(join(dir, 'gate'))) {
      request.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 20));
    }
    return response;
  },
};

const store = await openStore(storeUrl, { applicationName: `longrun-compaction-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [longSessionAgent(baseURL, shape, dir, blockingSummaries)],
  leaseMs: 1_000,
  pollMs: 20,
});
worker.on('events.committed', ({ events }) => {
  for (const e of events) out(`ack ${e.seq} ${e.type}`);
});
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
out('ready');
process.on('SIGTERM', () => {
  void worker.stop().then(() => store.close().then(() => process.exit(0)));
});
