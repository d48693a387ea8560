/**
 * `npm run bench`: measures the durable core and prints one JSON document (also written to
 * bench-results/latest.json). Figures are medians and tail percentiles; machines are noisy.
 * LONGRUN_BENCH_QUICK=1 runs a shorter version; LONGRUN_BENCH_ONLY picks one part: sqlite, postgres,
 * harness, peerWorkload, resume, longSession, waits, governance, bundle, telemetry, workspace, api,
 * sandbox or faults
 * (LONGRUN_BENCH_LONG_STEPS sets longSession's steps). LONGRUN_BENCH_STORE=sqlite (or
 * postgres) keeps the per-store parts (peerWorkload included) to that store.
 * A section that cannot run here (no Postgres, no bubblewrap) is reported as `{ "skipped": "<why>" }`
 * and every other section still runs: the bench always prints what it measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { postgresStatus, sqliteTarget, postgresTarget } from '../store-targets.ts';
import { measureStepOverhead } from './step-overhead.ts';
import { measureThroughput } from './throughput.ts';
import { measureTakeover } from './takeover.ts';
import { measureSqliteCommit } from './commit-baseline.ts';
import { measureHarnessOverhead } from './harness-overhead.ts';
import { measureTokenDelivery } from './token-delivery.ts';
import { measureApi } from './api-bench.ts';
import { measureWorkspaceSnapshots } from './workspace-bench.ts';
import { measureSandbox } from './sandbox-bench.ts';
import { measurePgRestart } from './faults.ts';
import { section } from './sections.ts';
import { measureResumes } from './resume.ts';
import { measureLongSession } from './long-session-bench.ts';
import { measureGovernance, measureSubAgents } from './governance-bench.ts';
import { measureTelemetryMetrics, measureTelemetryOverhead } from './telemetry-bench.ts';
import { measureTimerWaits, quickTimerWaitsSizes, timerWaitsSizes } from './timer-waits.ts';
import { measurePeerWorkload, peerWorkloadSizes, quickPeerWorkloadSizes } from './peer-workload.ts';
import { round } from './stats.ts';
import { measureBundle, bundleBenchSizes } from './bundle-bench.ts';

const quick = process.env.LONGRUN_BENCH_QUICK === '1';
const only = process.env.LONGRUN_BENCH_ONLY;
const onlyStore = process.env.LONGRUN_BENCH_STORE;
const lengths = quick ? [50, 200] : [50, 200, 800];
const concurrencies = [1, 8, 32];

const stores = [
  { name: 'sqlite', make: sqliteTarget, run: only === undefined || only === 'sqlite' },
  {
    name: 'postgres',
    make: postgresTarget,
    run: (only === undefined || only === 'postgres') && postgresStatus.ok,
  },
].filter((store) => onlyStore === undefined || store.name === onlyStore);

const results: Record<string, unknown> = {
  node: process.version,
  cpus: availableParallelism(),
  date: new Date().toISOString(),
  quick,
};
if (!postgresStatus.ok && (only === undefined || only === 'postgres')) {
  results.postgres = { skipped: `Postgres does not answer: ${postgresStatus.reason}` };
}
results.sqliteCommitBaselineMs = await section('SQLite commit baseline', measureSqliteCommit);

for (const store of stores) {
  if (!store.run) continue;
  const log = (what: string): boolean => process.stderr.write(`[bench] ${store.name}: ${what}\n`);
  const out: Record<string, unknown> = {};
  const measure = <T>(name: string, run: () => Promise<T>) => {
    log(name);
    return section(`${store.name}: ${name}`, run);
  };
  await measure(
    'warm-up (not recorded): lets the JIT compile the harness before anything is timed',
    () => measureStepOverhead(store.make, 100),
  );
  out.stepOverhead = await measure('step overhead', async () => {
    const overhead = [];
    for (const steps of lengths) overhead.push(await measureStepOverhead(store.make, steps));
    return overhead;
  });
  out.throughput = await measure('throughput', async () => {
    const throughput = [];
    for (const sessions of concurrencies)
      throughput.push(await measureThroughput(store.make, sessions, quick ? 50 : 200));
    return throughput;
  });
  out.harnessOverhead = await measure('agent harness overhead', () =>
    measureHarnessOverhead(store.make, quick ? 100 : 400),
  );
  out.tokenDelivery = await measure('token delivery to a live reader', () =>
    measureTokenDelivery(store.make, quick ? 1_000 : 3_000, 1_000),
  );
  out.api = await measure(
    'HTTP API: creations, live delivery to 100 SSE readers, 1,000 idle readers',
    () => measureApi(store.make, { quick, memory: store.name === 'sqlite' }),
  );
  out.takeover = await measure('takeover after kill -9', () =>
    measureTakeover(store.make, quick ? 5 : 15),
  );
  results[store.name] = out;
}

if (only === undefined || only === 'harness') {
  process.stderr.write(
    '[bench] harness: step overhead of the agent harness and time in its gate chain (SQLite)\n',
  );
  results.harness = await section('harness', async () => {
    // Warm-up (not recorded), then the agent harness: a zero-latency scripted model, one
    // file-appending tool call per step. (The first milestone's step loop it was once measured
    // beside is gone from the product.)
    await measureHarnessOverhead(sqliteTarget, 100);
    const agentRun = await measureHarnessOverhead(sqliteTarget, quick ? 200 : 800);
    return {
      stepOverheadP50Ms: agentRun.overheadMs.p50,
      gatesP50Ms: agentRun.gatesP50Ms,
      agentRun,
    };
  });
}

if (only === undefined || only === 'peerWorkload') {
  // Issue 12's workload, per store, with its targets beside the figures (`targets.*.met`).
  const peer: Record<string, unknown> = {};
  for (const store of stores) {
    if (store.name === 'postgres' && !postgresStatus.ok) {
      peer.postgres = { skipped: `Postgres does not answer: ${postgresStatus.reason}` };
      continue;
    }
    const log = (what: string): void =>
      void process.stderr.write(`[bench] peerWorkload.${store.name}: ${what}\n`);
    peer[store.name] = await section(`peerWorkload.${store.name}`, () =>
      measurePeerWorkload(store.make, quick ? quickPeerWorkloadSizes : peerWorkloadSizes, log),
    );
  }
  results.peerWorkload = peer;
}

if (only === undefined || only === 'resume') {
  process.stderr.write(
    '[bench] resume: an agent session of 2,000 steps stopped at 1,900, against 100 stopped at 95 (SQLite), with a 128k context window and without one\n',
  );
  const shapes = { short: { steps: 100, stopAt: 95 }, long: { steps: 2_000, stopAt: 1_900 } };
  // The bars: at most the checkpoint interval (64 events) and one step's events read; the long
  // session's resume within 2x of the short one's (`ratio`, the name; `msRatio` is the
  // same figure under its earlier name). The agent has the scripted model's 128k window and
  // results of 400 characters, so it compacts as a real agent would (the checkpoint then holds
  // the transcript since the latest compaction); `withoutCompaction` is the same sessions with
  // short results and no window (the whole transcript in the checkpoint).
  const figures = async (context: { windowTokens?: number; outputChars?: number }) => {
    const { short, long } = await measureResumes(sqliteTarget, shapes, context);
    const ratio = round(long.ms / short.ms, 2);
    return {
      eventsRead: long.eventsRead,
      ms: long.ms,
      shortSessionMs: short.ms,
      ratio,
      msRatio: ratio,
      sessions: [short, long],
    };
  };
  results.resume = await section('resume', async () => ({
    ...(await figures({ windowTokens: 128_000, outputChars: 400 })),
    withoutCompaction: await figures({}),
  }));
}

if (only === undefined || only === 'longSession') {
  // Issue 13: a 10,000-step session under a 128k window, compacting as it goes (2,000 quick).
  const long: Record<string, unknown> = {};
  const steps = Number(process.env.LONGRUN_BENCH_LONG_STEPS ?? (quick ? 2_000 : 10_000));
  for (const store of stores) {
    if (store.name === 'postgres' && !postgresStatus.ok) {
      long.postgres = { skipped: `Postgres does not answer: ${postgresStatus.reason}` };
      continue;
    }
    const log = (what: string): void =>
      void process.stderr.write(`[bench] longSession.${store.name}: ${what}\n`);
    log(`${steps} steps`);
    long[store.name] = await section(`longSession.${store.name}`, () =>
      measureLongSession(store.make, steps, log),
    );
  }
  results.longSession = long;
}

if (only === undefined || only === 'waits') {
  const sizes = quick ? quickTimerWaitsSizes : timerWaitsSizes;
  process.stderr.write(
    `[bench] waits: ${sizes.sessions} sessions waiting on durable timers at once (SQLite)\n`,
  );
  results.waits = await section('waits', () => measureTimerWaits(sqliteTarget, sizes));
}

if (only === undefined || only === 'governance') {
  process.stderr.write(
    '[bench] governance: the tool-call gate chain with a 50-rule policy under a tenant policy (SQLite)\n',
  );
  results.governance = {
    ...(await section('governance', () => measureGovernance(sqliteTarget, quick ? 100 : 400))),
    subAgents: await section('governance.subAgents', () =>
      measureSubAgents(sqliteTarget, quick ? 20 : 100),
    ),
  };
}

if (only === undefined || only === 'bundle') {
  process.stderr.write(
    `[bench] bundle: the debug bundle of a ${bundleBenchSizes.steps}-step session with a ~100 MiB workspace (SQLite)\n`,
  );
  results.bundle = await section('bundle', () => measureBundle(sqliteTarget));
}

if (only === undefined || only === 'telemetry') {
  process.stderr.write(
    '[bench] telemetry: the agent harness with metrics and OTLP traces on vs off; metrics alone, the derivation per step, a scrape (SQLite)\n',
  );
  results.telemetry = {
    stepOverheadP50Ms: await section('telemetry.stepOverheadP50Ms', () =>
      measureTelemetryOverhead(sqliteTarget, quick ? 200 : 800),
    ),
    metrics: await section('telemetry.metrics', () =>
      measureTelemetryMetrics(sqliteTarget, quick ? 200 : 800),
    ),
  };
}

if (only === undefined || only === 'workspace') {
  process.stderr.write('[bench] workspace snapshots: 1,000 files, ~100 MB\n');
  results.workspace = await section('workspace snapshots', () =>
    measureWorkspaceSnapshots({ quick }),
  );
}

if (only === undefined || only === 'sandbox') {
  process.stderr.write(
    '[bench] sandbox start and exec, process and bwrap drivers, with and without the pool\n',
  );
  results.sandbox = await section('sandbox', () => measureSandbox({ quick }));
}

if (only === undefined || only === 'faults') {
  process.stderr.write(
    '[bench] faults: Postgres crash-restarted every 3-8 s under 2 longrun workers and a library worker\n',
  );
  results.faults = {
    pgRestart: await section('faults: Postgres restarts', () => measurePgRestart({ quick })),
  };
}

if (only === 'api') {
  // The HTTP API bench alone, on both stores (it is also part of each store's full run).
  for (const store of stores.filter((s) => s.name === 'sqlite' || postgresStatus.ok)) {
    process.stderr.write(`[bench] ${store.name}: HTTP API\n`);
    results[store.name] = {
      api: await section(`${store.name}: HTTP API`, () =>
        measureApi(store.make, { quick, memory: store.name === 'sqlite' }),
      ),
    };
  }
}

const text = JSON.stringify(results, null, 2);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/latest.json', `${text}\n`);
process.stdout.write(`${text}\n`);
