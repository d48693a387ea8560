// Prints, as JSON, what a private PostgreSQL cluster costs here: the first start of this process
// (which builds the machine's template with initdb only if it does not exist yet: see
// `templateBuilt`), later starts (copy the template, start), restart in each mode, stop.
// Usage: node packages/e2e/src/faults/measure-private-postgres.ts [rounds=5] [parent dir]
// Figures are milliseconds; each restart follows one committed insert.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { templateDir } from './cluster-template.ts';
import { requirePostgresInstall } from './postgres-install.ts';
import {
  startPrivatePostgres,
  type PrivatePostgres,
  type RestartMode,
} from './private-postgres.ts';

const rounds = Math.max(1, Math.min(50, Number(process.argv[2] ?? 5)));
/** Where the clusters' directories go (default the temp dir); e.g. /dev/shm to measure tmpfs. */
const dir = process.argv[3];

function summary(values: number[]): { p50: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
  return { p50: Math.round(p50), max: Math.round(sorted.at(-1) ?? Number.NaN), n: values.length };
}

async function query(cluster: PrivatePostgres, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function restarts(cluster: PrivatePostgres, mode: RestartMode) {
  const down: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await query(cluster, `INSERT INTO t VALUES (${i})`);
    const report = await cluster.restart({ mode });
    down.push(report.downMs);
    stop.push(report.stopMs);
  }
  return { downMs: summary(down), stopMs: summary(stop) };
}

const templateBuilt = !existsSync(templateDir(requirePostgresInstall()));
const first = await startPrivatePostgres({ dir });
const firstStartMs = first.startMs;
await query(first, 'CREATE TABLE t (n int)');
const immediate = await restarts(first, 'immediate');
const fast = await restarts(first, 'fast');
let stopAt = performance.now();
await first.stop();
const stops = [performance.now() - stopAt];
const starts: number[] = [];
for (let i = 0; i < rounds; i++) {
  const cluster = await startPrivatePostgres({ dir });
  starts.push(cluster.startMs);
  await query(cluster, 'SELECT 1');
  stopAt = performance.now();
  await cluster.stop();
  stops.push(performance.now() - stopAt);
}
console.log(
  JSON.stringify(
    {
      templateBuilt,
      firstStartMs: Math.round(firstStartMs),
      laterStartMs: summary(starts),
      restartImmediate: immediate,
      restartFast: fast,
      stopMs: summary(stops),
    },
    null,
    2,
  ),
);
