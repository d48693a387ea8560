import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { background, waitFor } from './test-fixtures/cli-process.ts';
import { postgresStoreUrls } from './test-fixtures/postgres-stores.ts';

const pgStore = await postgresStoreUrls('the Postgres case of worker ids', 'cli_ids');

/** Starts `longrun worker` and reads the id it says it started with. */
async function startWorker(store: string, cwd: string) {
  const worker = background(['worker', '--store', store], cwd);
  const id = await waitFor('worker started', async () => {
    const line = worker
      .output()
      .split('\n')
      .find((l) => l.includes('"worker started"'));
    return line === undefined ? undefined : (JSON.parse(line) as { workerId: string }).workerId;
  });
  return { ...worker, id };
}

/**
 * The same on both stores: `longrun worker` takes `<host>-worker` (a restart takes it again and
 * reclaims its sessions at once); a second worker on the host while the first runs takes
 * `<host>-worker-<pid>`.
 */
describe.each([
  ['sqlite', (cwd: string) => join(cwd, 'longrun.db'), true],
  ['postgres', () => pgStore?.() ?? '', pgStore !== null],
] as const)('worker ids on %s', (_kind, storeFor, runs) => {
  it.runIf(runs)(
    'is <host>-worker, <host>-worker-<pid> beside it, the same after a restart',
    async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'longrun-ids-'));
      const store = storeFor(cwd);
      const first = await startWorker(store, cwd);
      expect(first.id).toBe(`${hostname()}-worker`);
      const second = await startWorker(store, cwd);
      expect(second.id).toBe(`${hostname()}-worker-${second.child.pid}`);
      first.child.kill('SIGKILL');
      await first.exited;
      second.child.kill('SIGTERM');
      expect(await second.exited, second.ending()).toBe(0);
      const restarted = await startWorker(store, cwd);
      expect(restarted.id).toBe(`${hostname()}-worker`);
      restarted.child.kill('SIGTERM');
      expect(await restarted.exited, restarted.ending()).toBe(0);
    },
  );
});
