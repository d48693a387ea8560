import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import pg from 'pg';
import { openStore } from '@longrun/cli';
import type { SessionStore, StoredEvent } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { ledgerAgent } from '../ledger/ledger-agent.ts';
import { expectLedgerRunWhole, untilSessionCompletes } from '../ledger/ledger-run-checks.ts';
import { until } from '../schedules/schedule-workers.ts';
import { describeWithPrivatePostgres } from './describe-with-private-postgres.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';
import { isRunning } from './process-tree.ts';
import { fillDisk, mountTinyTmpfs } from './tmpfs.ts';

/**
 * PostgreSQL's own disk fills up under a running agent, as when another program (a log, a
 * backup) takes the last byte of the volume: the server's cluster lives on a size-capped tmpfs
 * and a filler file takes every byte left while the session runs. PostgreSQL then refuses to
 * extend a table (53100, STORAGE_FULL) or, when its WAL needs a new segment, panics and stops.
 * Whatever it does, longrun must hold the session (not fail it), lose nothing it acknowledged,
 * apply no keyed effect twice, and finish the run once the space is back and the server runs
 * (restarted by the operator if it stopped).
 */
const clusterDiskKb = 256 * 1024;
const steps = 400;

describeWithPrivatePostgres('PostgreSQL on a disk that fills up', () => {
  const mount = mountTinyTmpfs(clusterDiskKb);
  if ('error' in mount) {
    console.error(`\n!!! the PostgreSQL disk-full suite did NOT run: ${mount.error}\n`);
    if (process.env.CI === 'true') throw new Error(`it needs a tmpfs: ${mount.error}`);
  }
  const ledgerDir = mkdtempSync(join(tmpdir(), 'longrun-pg-disk-full-'));
  let cluster: PrivatePostgres | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (!('error' in mount)) mount.unmount();
    rmSync(ledgerDir, { recursive: true, force: true });
  });

  /**
   * Runs the ledger agent on the cluster until ten steps are committed, fills the disk, and
   * (`switchWal`) asks the server for a new WAL segment, which it cannot create; then frees the
   * space, restarts the server if it stopped, and checks the finished run.
   */
  async function runThroughFullDisk(switchWal: boolean): Promise<void> {
    if ('error' in mount) return;
    // A small WAL, so that the full disk meets it as it would on a volume sized for the data.
    cluster = await startPrivatePostgres({
      dir: mount.dir,
      settings: { max_wal_size: '64MB', min_wal_size: '32MB' },
    });
    const filler = join(mount.dir, 'another-programs-file');
    const store: SessionStore = await openStore(cluster.url, { waitForServer: true });
    const ledger = mkdtempSync(join(ledgerDir, 'run-'));
    const worker = new Worker({
      store,
      agents: [ledgerAgent({ dir: ledger })],
      leaseMs: 3_000,
      pollMs: 20,
    });
    const acked: StoredEvent[] = [];
    const stalls: string[] = [];
    const ended: string[] = [];
    worker.on('events.committed', ({ events }) => acked.push(...events));
    worker.on('append.stalled', ({ error }) => stalls.push(`${error.code}: ${error.message}`));
    worker.on('session.ended', ({ outcome, error }) =>
      ended.push(outcome === 'error' ? `error: ${String(error)}` : outcome),
    );
    try {
      const session = await store.createSession({ agent: 'ledger', input: { steps } });
      await worker.start();
      const toolResults = () => acked.filter((e) => e.type === 'tool.completed').length;
      await until('ten steps committed', async () => toolResults() >= 10, 30_000);
      const bytes = fillDisk(filler);
      const ackedWhenFull = toolResults();
      if (switchWal) {
        const client = new pg.Client({ connectionString: cluster.url });
        // The server may stop (PANIC) on this very request: its connection then ends with an
        // 'error' event besides the query's failure, which would otherwise be an uncaught error.
        client.on('error', () => undefined);
        await client.connect();
        await client
          .query('SELECT pg_switch_wal()')
          .catch(() => undefined)
          .finally(() => client.end().catch(() => undefined));
      }
      // The server cannot take the run's next writes: it stalls, it does not end.
      await until(
        'the run stalls',
        async () => stalls.length > 0 || !isRunning(cluster!.pid),
        30_000,
      );
      const stalledAt = acked.length;
      const seen = new Set<string>();
      const reasons = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const status = await store.getSession(session.id).then(
          (s) => {
            if (s.statusReason != null) reasons.add(s.statusReason);
            return s.status;
          },
          (e: unknown) => (e as { code?: string }).code ?? 'read failed',
        );
        seen.add(status);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(acked.length - stalledAt, 'events committed on a full disk').toBeLessThan(20);
      expect(toolResults(), 'the run went on as if the disk had room').toBeLessThan(steps);
      expect([...seen].filter((s) => s === 'failed' || s === 'completed')).toEqual([]);
      if (!switchWal) {
        // The server still runs and has room for a status change in its existing pages: the
        // session is parked with the reason, as on a full SQLite disk.
        expect(seen.has('paused'), [...seen].join(', ')).toBe(true);
        expect([...reasons].join('\n')).toMatch(/^the disk holding the store is full: /);
      }
      const serverDied = !isRunning(cluster.pid);
      // The operator frees the space and, if the server stopped, starts it again.
      rmSync(filler);
      if (serverDied) await cluster.restart({ mode: 'immediate' });
      await untilSessionCompletes(store, session.id, 120_000);
      await worker.stop();
      const events = await expectLedgerRunWhole(store, session.id, acked, ledger, steps);
      expect(events.filter((e) => e.type === 'session.failed')).toEqual([]);
      expect(
        stalls.every((s) => /^(STORAGE_FULL|STORE_UNAVAILABLE): /.test(s)),
        stalls[0],
      ).toBe(true);
      console.log(
        `[pg-disk-full] ${switchWal ? 'new WAL segment' : 'table growth'}: filled ${bytes} bytes after ${ackedWhenFull} steps; ` +
          `statuses while full: ${[...seen].join(', ')}; ${stalls.length} stall reports (first: ${stalls[0]?.slice(0, 140)}); ` +
          `server ${serverDied ? 'stopped and was restarted' : 'kept running'}; finished at seq ${events.length}; ` +
          `runs ended: ${ended.join(' | ').slice(0, 300)}`,
      );
    } finally {
      rmSync(filler, { force: true });
      await worker.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      await cluster.stop();
    }
  }

  it.runIf(!('error' in mount))(
    'a table that cannot grow: holds the session, loses nothing acknowledged, applies each effect once, finishes once space returns',
    { timeout: 180_000 },
    () => runThroughFullDisk(false),
  );

  it.runIf(!('error' in mount))(
    'a WAL segment that cannot be created (the server may stop): the same, once the operator frees space and starts it',
    { timeout: 180_000 },
    () => runThroughFullDisk(true),
  );
});
