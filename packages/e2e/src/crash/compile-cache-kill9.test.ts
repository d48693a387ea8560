import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteTarget, type StoreTarget } from '../store-targets.ts';
import { WorkerHandle } from './worker-handle.ts';

/** The bench's peer worker: a library user's worker, which opens a store and starts a Worker. */
const libraryWorker = fileURLToPath(new URL('../bench/peer-worker-process.ts', import.meta.url));

let target: StoreTarget | undefined;
let handle: WorkerHandle | undefined;
afterEach(async () => {
  await handle?.kill('SIGKILL');
  await target?.drop();
});

function filesUnder(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .length;
}

describe("a library user's worker and Node's compile cache", () => {
  it('leaves its compiled code for the next start when it dies by kill -9', async () => {
    target = await sqliteTarget();
    const cache = join(target.dir, 'compile-cache');
    handle = new WorkerHandle(
      target.url,
      'cache-1',
      target.dir,
      { NODE_COMPILE_CACHE: cache },
      libraryWorker,
    );
    await handle.ready(60_000);
    await handle.kill('SIGKILL');
    // Node writes the cache at a normal exit only; the Worker saved it once it had started.
    expect(filesUnder(cache)).toBeGreaterThan(50);
  });
});
