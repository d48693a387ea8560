import { statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '@longrun/cli';
import type { SessionStore } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import type { StoreTarget } from '../store-targets.ts';
import { peerAgent, peerFileName, peerLine, type PeerAgentOptions } from './peer-agent.ts';
import { peerFigures, type PeerFigures, type PeerMeasurements } from './peer-figures.ts';
import { measurePeerRestart } from './peer-restart.ts';
import { runPeerSessions, type PeerRun } from './peer-runs.ts';
import { storeBytes } from './store-size.ts';
import { timeTwoCommits } from './two-commits.ts';
import { percentile } from './stats.ts';
import { measureSlowFsyncGrouping, type SlowFsyncSizes } from './peer-slow-fsync.ts';

/** How much of the workload to run; the figures' names keep the issue's S (50/200/800). */
export interface PeerWorkloadSizes {
  /**
   * Rounds of runs of `steps` steps at one session (between two batches of `twoCommitPairs`
   * pairs), at c8 and at c32 sessions. Steps/s and event loop delay are medians over rounds.
   */
  rounds: number;
  twoCommitPairs: number;
  /** Steps per session of the step-time and throughput runs (the S = 200). */
  steps: number;
  /** Concurrencies reported as c8 and c32. */
  c8: number;
  c32: number;
  /** The run lengths reported as s50, s200, s800 (and the workspace run, of the last). */
  bytesSteps: [number, number, number];
  kills: number;
  /** The most warm-up runs at c32 (see measurePeerWorkload). */
  warmUpRuns: number;
  /** The SQLite runs with every fsync made slow (peer-slow-fsync.ts); null: none. */
  slowFsync: SlowFsyncSizes | null;
}

/** A warm-up run at c32 less than this much faster than the one before ends the warm-up. */
const warmUpSettled = 0.05;

export const peerWorkloadSizes: PeerWorkloadSizes = {
  rounds: 3,
  twoCommitPairs: 100,
  steps: 200,
  c8: 8,
  c32: 32,
  bytesSteps: [50, 200, 800],
  kills: 5,
  warmUpRuns: 6,
  slowFsync: { fsyncDelayMs: 2, steps: 200, sessions: 32, rounds: 2 },
};

/** LONGRUN_BENCH_QUICK: fewer rounds and kills; the same run lengths, so bytes stay comparable. */
export const quickPeerWorkloadSizes: PeerWorkloadSizes = {
  ...peerWorkloadSizes,
  rounds: 1,
  twoCommitPairs: 50,
  kills: 2,
  warmUpRuns: 2,
  slowFsync: { fsyncDelayMs: 2, steps: 200, sessions: 32, rounds: 1 },
};

/**
 * The peer workload of issue 12 on one store: step times at one session beside the two-commit
 * floor measured between the same rounds, steps/s at 1/8/32 sessions (the event loop's delay at
 * 32), bytes stored per run length, the workspace-appending run's bytes, and the time to the next
 * step after kill -9. Every run gets a fresh store; warm-up runs at c32 and at one session (not
 * recorded) come first.
 */
export async function measurePeerWorkload(
  make: () => Promise<StoreTarget>,
  sizes: PeerWorkloadSizes = peerWorkloadSizes,
  log: (what: string) => void = () => undefined,
): Promise<PeerFigures> {
  const runAt = (sessions: number, runs: PeerRun[]) =>
    withStore(make, sessions, async (store, target) => {
      runs.push(
        await runPeerSessions(store, peerAgent({ dir: target.dir }), sessions, sizes.steps),
      );
      return target.kind;
    });
  // The JIT compiles what runs: a worker that has run for a while has compiled its paths for
  // many sessions (batches, turns shared between sessions) as well as for one. A warm-up of one
  // session alone left the first rounds' c8 and c32 runs measuring the compiler, and so did one
  // run at c32: steps/s at c32 went on rising for three or four more runs (4,400-5,300 in the
  // first, 7,700-9,000 by the fourth, here). So the warm-up runs at c32 until a run is less than
  // `warmUpSettled` faster than the one before (at most `warmUpRuns`), then at one session.
  log('warm-up (not recorded)');
  const warmUp: PeerRun[] = [];
  for (let run = 1; run <= sizes.warmUpRuns; run++) {
    await runAt(sizes.c32, warmUp);
    const [before, last] = warmUp.slice(-2).map((r) => r.stepsPerSecond);
    if (before !== undefined && last !== undefined && last < before * (1 + warmUpSettled)) break;
  }
  log(
    `warm-up at ${sizes.c32}: ${warmUp.map((r) => Math.round(r.stepsPerSecond)).join(', ')} steps/s`,
  );
  const kind = await runAt(1, []);
  // Each round runs 1, c8 and c32 sessions in turn, so the ratios compare the same stretch of
  // load; the one-session run sits between two batches of the two-commit floor.
  const stepMs: number[] = [];
  const twoCommitsMs: number[] = [];
  const c1: PeerRun[] = [];
  const c8: PeerRun[] = [];
  const c32: PeerRun[] = [];
  for (let r = 1; r <= sizes.rounds; r++) {
    log(
      `round ${r} of ${sizes.rounds}: 1 session (beside the two-commit floor), ${sizes.c8}, ${sizes.c32}`,
    );
    await withStore(make, 1, async (store, target) => {
      twoCommitsMs.push(...(await timeTwoCommits(target, sizes.twoCommitPairs)));
      const run = await runPeerSessions(store, peerAgent({ dir: target.dir }), 1, sizes.steps);
      twoCommitsMs.push(...(await timeTwoCommits(target, sizes.twoCommitPairs)));
      stepMs.push(...run.stepMs);
      c1.push(run);
    });
    await runAt(sizes.c8, c8);
    await runAt(sizes.c32, c32);
  }
  const median = (runs: PeerRun[], figure: (run: PeerRun) => number): number =>
    percentile(runs.map(figure), 50);
  let slowFsync: PeerMeasurements['slowFsync'];
  if (kind === 'sqlite' && sizes.slowFsync !== null) {
    log(
      `1 and ${sizes.slowFsync.sessions} sessions with every fsync ${sizes.slowFsync.fsyncDelayMs} ms slower`,
    );
    slowFsync = await measureSlowFsyncGrouping(sizes.slowFsync);
  }
  log(`bytes stored per run of ${sizes.bytesSteps.join(' / ')} steps`);
  const [s50, s200, s800] = sizes.bytesSteps;
  const emptyStoreBytes = await withStore(make, 1, (store, target) =>
    storeBytes(store, target.url),
  );
  const bytesByS = {
    s50: (await bytesOfRun(make, s50, {})).stored,
    s200: (await bytesOfRun(make, s200, {})).stored,
    s800: (await bytesOfRun(make, s800, {})).stored,
  };
  log(`the workspace-appending agent, ${s800} steps`);
  const workspace = await bytesOfRun(make, s800, { appendTo: 'workspace' });
  log(`restart after kill -9, ${sizes.kills} times`);
  const restartMs = await withTarget(make, (target) => measurePeerRestart(target, sizes.kills));
  const measured: PeerMeasurements = {
    store: kind,
    stepMs,
    twoCommitsMs,
    stepsPerSecond: {
      c1: median(c1, (run) => run.stepsPerSecond),
      c8: median(c8, (run) => run.stepsPerSecond),
      c32: median(c32, (run) => run.stepsPerSecond),
    },
    warmUpStepsPerSecondC32: warmUp.map((run) => run.stepsPerSecond),
    appendsPerCommit: {
      c1: median(c1, (run) => run.appendsPerCommit),
      c8: median(c8, (run) => run.appendsPerCommit),
      c32: median(c32, (run) => run.appendsPerCommit),
    },
    bytesByS,
    emptyStoreBytes,
    restartMs,
    eventLoopDelayP99MsAtC32: median(c32, (run) => run.eventLoopDelayP99Ms),
    workspace: { bytesStored: workspace.stored, bytesAppended: workspace.appended },
    ...(slowFsync === undefined ? {} : { slowFsync }),
  };
  return peerFigures(measured);
}

/** One session of `steps` steps; the bytes its store then holds, and the bytes it appended. */
export async function bytesOfRun(
  make: () => Promise<StoreTarget>,
  steps: number,
  agent: Omit<PeerAgentOptions, 'dir'>,
): Promise<{ stored: number; appended: number }> {
  return withStore(make, 1, async (store, target) => {
    const run = await runPeerSessions(store, peerAgent({ ...agent, dir: target.dir }), 1, steps);
    const file =
      agent.appendTo === 'workspace'
        ? join(target.dir, 'workspaces', run.sessionIds[0] as string, peerFileName)
        : join(target.dir, peerFileName);
    // The run did its work: one line per step in the file, each appended once.
    const appended = statSync(file).size;
    const expected = steps * (peerLine(1).length + 1);
    if (appended !== expected)
      throw new Error(`the ${steps}-step peer run appended ${appended} bytes, not ${expected}`);
    return { stored: await storeBytes(store, target.url), appended };
  });
}

async function withTarget<T>(
  make: () => Promise<StoreTarget>,
  use: (target: StoreTarget) => Promise<T>,
): Promise<T> {
  const target = await make();
  try {
    return await use(target);
  } finally {
    await target.drop();
  }
}

/**
 * A fresh store, its pool sized for `sessions` at once, closed and dropped after `use`, which
 * starts once the store commits where it will from then on. A SQLite store commits on the event
 * loop until its writer thread has started (40-70 ms after open here, 65-180 ms when the
 * thread loads TypeScript sources, as the bench does; docs/durability.md): a 200-step run at one
 * session fits in that window, and would time those commits rather than the store a worker runs on.
 */
function withStore<T>(
  make: () => Promise<StoreTarget>,
  sessions: number,
  use: (store: SessionStore, target: StoreTarget) => Promise<T>,
): Promise<T> {
  return withTarget(make, async (target) => {
    const store = await openStore(target.url, { poolSize: Math.min(32, sessions + 2) });
    try {
      if (store instanceof SqliteStore) await store.committingOn();
      return await use(store, target);
    } finally {
      await store.close();
    }
  });
}
