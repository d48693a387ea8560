import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseEnv, startLongrun, type LongrunProcess } from '../attacks/longrun-process.ts';
import { seededRandom } from '../seeded-random.ts';
import type { CliWorker } from './cli-worker.ts';
import type { RunFacts, RunVerdict } from './fault-invariants.ts';
import { FaultRun } from './fault-run.ts';
import {
  collectedMemory,
  fdKinds,
  inspectorUrlIn,
  judgeResources,
  ResourceWatch,
  type CollectedMemory,
  type ResourceBars,
  type ResourceVerdict,
} from './process-resources.ts';
import { eventually, sleep } from './tier.ts';

export interface ResourceSoakOptions {
  seed: number;
  /** How long the faults run (and the processes are watched), ms. */
  faultMs: number;
  /** `longrun worker` processes that live through the whole run, watched. */
  watchedWorkers: number;
  activeSessions: number;
  steps: number;
  concurrency: number;
  bars: ResourceBars;
  /** How often each watched process is read, ms. */
  sampleEveryMs: number;
}

/** What the API readers did: the counts that show an all-errors run cannot pass. */
export interface ApiReads {
  listsOk: number;
  listsFailed: number;
  /** Streams opened that delivered at least one byte before the reader cut them. */
  streamsWithData: number;
  streamsFailed: number;
}

export interface ResourceSoakResult {
  verdict: RunVerdict;
  facts: RunFacts;
  drained: boolean;
  restarts: number;
  victimKills: number;
  api: ApiReads;
  resources: ResourceVerdict[];
  /** The watched processes still alive at the end (none may have exited). */
  watchedAlive: number;
  /**
   * Workspace directories left on disk once every session completed (the workers run with
   * `--remove-finished-workspaces`).
   */
  leftWorkspaces: string[];
  /** The most workspace directories seen at once while sessions ran (so the check above is one). */
  workspacesSeen: number;
  /** Descriptors by kind of each watched process at the end, for a failed bar's message. */
  fdKindsAtEnd: Record<string, Record<string, number>>;
}

/**
 * The soak of TESTING.md's load row: sessions run on `longrun worker` processes over a private
 * Postgres that is crash-restarted every 3–8 s, while one more worker is SIGKILLed and replaced
 * every 8–15 s and two readers keep asking a `longrun serve` API node for the session list and
 * cutting its event streams mid-read. The watched processes — the workers that are never killed
 * and the API node — are read every `sampleEveryMs` for their resident memory and descriptors:
 * after the warm-up, memory may not grow past the bar and descriptors must stay flat
 * (process-resources.ts). Every session is then let finish and checked as in every Postgres
 * fault suite (fault-invariants.ts).
 */
export async function resourceSoak(options: ResourceSoakOptions): Promise<ResourceSoakResult> {
  const random = seededRandom(options.seed);
  const run = await FaultRun.start({
    label: 'resource-soak',
    seed: options.seed,
    cliWorkers: options.watchedWorkers + 1,
    library: false,
    proxied: false,
    leaseMs: 3_000,
    libraryLivenessMs: 3_000,
    activeSessions: options.activeSessions,
    steps: options.steps,
    toolMs: [50, 300],
    concurrency: options.concurrency,
    // The watched processes' memory is read after full collections, through their inspector.
    cliNodeOptions: inspectFlag,
    // As an operator runs workers for weeks: a finished session's directory does not stay.
    cliArgs: ['--remove-finished-workspaces'],
  });
  const apiDir = mkdtempSync(join(tmpdir(), 'longrun-soak-api-'));
  let api: LongrunProcess | null = null;
  const watches: ResourceWatch[] = [];
  let passed = false;
  const workspaces = join(run.dir, 'workspaces');
  const workspaceDirs = (): string[] => (existsSync(workspaces) ? readdirSync(workspaces) : []);
  try {
    api = startLongrun(['serve', '--store', run.pg.url, '--no-auth', '--port', '0'], apiDir, {
      ...baseEnv(apiDir),
      NODE_OPTIONS: inspectFlag,
    });
    let apiExited = false;
    void api.exited.then(() => (apiExited = true));
    const base = (await api.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)$/m, 60_000))[1] ?? '';
    const apiProcess = api;
    const watched: { label: string; pid: number; stderr: () => string }[] = [
      ...run.workers.slice(0, options.watchedWorkers).map((w) => ({
        label: w.name,
        pid: w.pid,
        stderr: () => readFileSync(w.logPath, 'utf8'),
      })),
      { label: 'serve', pid: api.pid, stderr: () => apiProcess.stderr() },
    ];
    const inspectors = watched.map((w) => {
      const url = inspectorUrlIn(w.stderr());
      if (url === null) throw new Error(`${w.label} printed no inspector address:\n${w.stderr()}`);
      return url;
    });
    /** Three readings of each watched process, a second apart. */
    const readAll = async (): Promise<CollectedMemory[][]> => {
      const readings: CollectedMemory[][] = watched.map(() => []);
      for (let round = 0; round < 3; round++) {
        if (round > 0) await sleep(1_000);
        for (const [i, url] of inspectors.entries()) readings[i]?.push(await collectedMemory(url));
      }
      return readings;
    };
    const startMs = performance.now();
    for (const w of watched) watches.push(new ResourceWatch(w.label, w.pid, options.sampleEveryMs));

    run.feed(options.faultMs);
    if (!(await eventually(() => run.observer.observed.length >= 30, 30_000))) {
      throw new Error('the workers committed nothing before the faults began');
    }
    const deadline = startMs + options.faultMs;
    const baselineReadings = sleep(
      Math.max(0, startMs + options.bars.warmupMs - performance.now()),
    ).then(readAll);
    const reads: ApiReads = { listsOk: 0, listsFailed: 0, streamsWithData: 0, streamsFailed: 0 };
    const readers = [1, 2].map((n) =>
      readApi(base, run, reads, seededRandom(options.seed + n), deadline),
    );
    let victim: CliWorker = run.workers[options.watchedWorkers] as CliWorker;
    let victimKills = 0;
    let nextKillAt = performance.now() + 8_000 + random() * 7_000;
    let restarts = 0;
    let workspacesSeen = 0;
    while (performance.now() < deadline && restarts < 2_000) {
      await sleep(3_000 + Math.floor(random() * 5_000));
      if (performance.now() >= deadline) break;
      workspacesSeen = Math.max(workspacesSeen, workspaceDirs().length);
      await run.pg.restart({ mode: 'immediate' });
      restarts += 1;
      if (performance.now() >= nextKillAt) {
        await victim.kill();
        victimKills += 1;
        victim = await run.spawnWorker();
        await victim.started();
        nextKillAt = performance.now() + 8_000 + random() * 7_000;
      }
    }
    await Promise.all(readers);
    const baselineMemory = await baselineReadings;
    const endMemory = await readAll();
    for (const w of watches) w.stop();
    const fdKindsAtEnd = Object.fromEntries(watched.map((w) => [w.label, fdKinds(w.pid)]));
    const watchedAlive =
      run.workers.slice(0, options.watchedWorkers).filter((w) => w.alive).length +
      (apiExited ? 0 : 1);
    const resources = watches.map((w, i) =>
      judgeResources(
        w.label,
        w.samples,
        { baseline: baselineMemory[i] ?? [], end: endMemory[i] ?? [] },
        startMs,
        options.bars,
      ),
    );
    const { verdict, facts, drained } = await run.finish(120_000);
    await eventually(() => workspaceDirs().length === 0, 5_000);
    const leftWorkspaces = workspaceDirs();
    passed =
      verdict.violations.length === 0 && drained && resources.every((r) => r.problems.length === 0);
    return {
      verdict,
      facts,
      drained,
      restarts,
      victimKills,
      api: reads,
      resources,
      watchedAlive,
      leftWorkspaces,
      workspacesSeen,
      fdKindsAtEnd,
    };
  } finally {
    for (const w of watches) w.stop();
    await api?.stop(10_000);
    rmSync(apiDir, { recursive: true, force: true });
    await run.close(!passed);
  }
}

const inspectFlag = '--inspect=127.0.0.1:0';

/**
 * One reader of the API node until `deadline`: the session list, then the event stream of an
 * open session, read for 0.3–3 s and cut, as a dashboard tab that is closed mid-stream.
 */
async function readApi(
  base: string,
  run: FaultRun,
  reads: ApiReads,
  random: () => number,
  deadline: number,
): Promise<void> {
  while (performance.now() < deadline) {
    try {
      const list = await fetch(`${base}/v1/sessions?limit=20`, {
        signal: AbortSignal.timeout(5_000),
      });
      await list.arrayBuffer();
      if (list.ok) reads.listsOk += 1;
      else reads.listsFailed += 1;
    } catch {
      reads.listsFailed += 1;
    }
    const open = run.observer.openIds();
    const id = open[Math.floor(random() * open.length)];
    if (id !== undefined) {
      const cut = new AbortController();
      const timer = setTimeout(() => cut.abort(), 300 + Math.floor(random() * 2_700));
      let bytes = 0;
      try {
        const stream = await fetch(`${base}/v1/sessions/${id}/stream`, { signal: cut.signal });
        if (!stream.ok || stream.body === null) reads.streamsFailed += 1;
        else for await (const chunk of stream.body) bytes += (chunk as Uint8Array).byteLength;
      } catch {
        // Cut by the reader (the usual end), or refused while Postgres was down.
      } finally {
        clearTimeout(timer);
      }
      if (bytes > 0) reads.streamsWithData += 1;
    }
    await sleep(100 + Math.floor(random() * 200));
  }
}
