/**
 * Where one step of the peer workload (peer-agent.ts) goes, beyond the store's commits: one
 * session of S steps at one session on SQLite, profiled. Not part of `npm run bench` (a profiler
 * changes what it measures); run it by hand:
 *
 *   NODE_OPTIONS=--conditions=@longrun/source node packages/e2e/src/bench/peer-profile.ts [S]
 *
 * Prints JSON: the step times; the CPU two plain commits take beside the CPU of a step, with
 * workspace snapshots on (the default) and off, 5 rounds each without the profiler (CPU time is
 * what holds still on a loaded machine; wall time follows the disk); every store call the
 * harness made, timed (per step: calls and ms
 * by method — SQLite's commits run inside `append` and `saveCheckpoint`, synchronously); the
 * events written per step by type, with their JSON bytes; and the CPU profile of the run (100 µs
 * sampling) summarized two ways: each sample charged to the innermost longrun source file on its
 * stack (so a JSON.stringify called from the store counts as the store's), and the top functions
 * by self time. The .cpuprofile is kept (its path is printed) for a flame graph.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SessionId, SessionStore } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { sqliteTarget } from '../store-targets.ts';
import { peerAgent } from './peer-agent.ts';
import { runPeerSessions } from './peer-runs.ts';
import { percentile, round } from './stats.ts';
import { timeTwoCommits } from './two-commits.ts';

/** The profile's files grouped into the parts of a step issue 12 names. */
const areas: [RegExp, string][] = [
  [/^store-sqlite\//, 'store: SQLite statements (COMMIT + fsync inside)'],
  [/^workspace\/|agent-workspace\.ts$/, 'workspace snapshot check after the tool'],
  [/^core\/src\/(json|ids|events|ports\/store-input)\.ts$/, 'event encoding and checks'],
  [/transcript-(builder|codec)\.ts$/, 'transcript building and encoding'],
  [/^core\/src\/fold\.ts$/, 'folding'],
  [/checkpoint\.ts$/, 'checkpoints'],
  [/delta-coalescer\.ts$/, 'delta coalescing'],
  [/^runtime\//, 'the rest of the harness and worker'],
  [/^e2e\/src\/bench\/peer-agent\.ts$|^zod\//, 'the model and the tool (the workload)'],
  [/^\(native\) \(idle\)$/, 'idle: waiting (async fs of the snapshot check, timers)'],
  [/^\(native\) \((program|garbage collector)\)$/, 'GC and V8'],
  [/^node:internal\//, 'Node internals (ticks, timers, fs promises)'],
];

function areaOf(file: string): string {
  return areas.find(([pattern]) => pattern.test(file))?.[1] ?? `other: ${file}`;
}

const steps = Number(process.argv[2] ?? 200);
const target = await sqliteTarget();
const plain = await openStore(target.url);
const calls: { method: string; ms: number }[] = [];
const store = timedStore(plain, calls);
const agent = peerAgent({ dir: target.dir });

await runPeerSessions(store, agent, 1, 50); // warm-up: the JIT compiles the step loop
calls.length = 0;
const twoCommitsCpu = process.cpuUsage();
const twoCommitsMs = await timeTwoCommits(target, 200);
const twoCommitsCpuUs = process.cpuUsage(twoCommitsCpu);
const ab = await snapshotCheckPrice(5);
calls.length = 0;
const inspector = new Session();
inspector.connect();
await inspector.post('Profiler.enable');
await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
await inspector.post('Profiler.start');
const run = await runPeerSessions(store, agent, 1, steps);
const { profile } = await inspector.post('Profiler.stop');
inspector.disconnect();

const profilePath = join(target.dir, '..', `peer-profile-${process.pid}.cpuprofile`);
writeFileSync(profilePath, JSON.stringify(profile));
const events = await plain.readEvents(run.sessionIds[0] as SessionId, 0, 1_000_000);
await plain.close();
await target.drop();

const perStep = (n: number): number => round(n / steps, 4);
const byMethod = new Map<string, { calls: number; ms: number }>();
for (const c of calls) {
  const m = byMethod.get(c.method) ?? { calls: 0, ms: 0 };
  m.calls++;
  m.ms += c.ms;
  byMethod.set(c.method, m);
}
const byType = new Map<string, { count: number; bytes: number }>();
for (const e of events) {
  const t = byType.get(e.type) ?? { count: 0, bytes: 0 };
  t.count++;
  t.bytes += JSON.stringify(e.data).length;
  byType.set(e.type, t);
}
const wallMs = run.seconds * 1000;
process.stdout.write(
  `${JSON.stringify(
    {
      steps,
      profile: profilePath,
      stepP50Ms: round(percentile(run.stepMs, 50)),
      twoCommitsP50Ms: round(percentile(twoCommitsMs, 50)),
      // The CPU two plain commits take, to compare with the step's CPU below.
      twoCommitsCpuMs: round((twoCommitsCpuUs.user + twoCommitsCpuUs.system) / 1000 / 200, 4),
      snapshotCheckPrice: ab,
      wallMsPerStep: perStep(wallMs),
      storeCallsPerStep: Object.fromEntries(
        [...byMethod].map(([k, v]) => [k, { calls: perStep(v.calls), ms: perStep(v.ms) }]),
      ),
      eventsPerStep: Object.fromEntries(
        [...byType].map(([k, v]) => [k, { count: perStep(v.count), bytes: perStep(v.bytes) }]),
      ),
      oneStepsEvents: events
        .filter((e) => 'step' in e.data && e.data.step === 2)
        .map((e) => ({ type: e.type, data: e.data })),
      cpu: summarizeProfile(profile as CpuProfile, steps),
    },
    null,
    2,
  )}\n`,
);

/**
 * The same run without the profiler, `rounds` times each with workspace snapshots on (the
 * default) and off, alternating: the medians of the step's wall time, its time in the store's
 * `append`, and the process's CPU time, ms per step.
 */
async function snapshotCheckPrice(rounds: number) {
  const figures = { on: [] as Figures[], off: [] as Figures[] };
  for (let r = 0; r < rounds; r++) {
    for (const snapshots of [true, false]) {
      calls.length = 0;
      const cpuBefore = process.cpuUsage();
      const run = await runPeerSessions(
        store,
        peerAgent({ dir: target.dir, workspaceSnapshots: snapshots }),
        1,
        steps,
      );
      const cpu = process.cpuUsage(cpuBefore);
      const appendMs = calls.filter((c) => c.method === 'append').reduce((a, c) => a + c.ms, 0);
      figures[snapshots ? 'on' : 'off'].push({
        stepP50Ms: percentile(run.stepMs, 50),
        wallMs: (run.seconds * 1000) / steps,
        appendMs: appendMs / steps,
        cpuMs: (cpu.user + cpu.system) / 1000 / steps,
      });
    }
  }
  const median = (list: Figures[]) =>
    Object.fromEntries(
      (['stepP50Ms', 'wallMs', 'appendMs', 'cpuMs'] as const).map((k) => [
        k,
        round(
          percentile(
            list.map((f) => f[k]),
            50,
          ),
          4,
        ),
      ]),
    );
  return { rounds, snapshotsOn: median(figures.on), snapshotsOff: median(figures.off) };
}

interface Figures {
  stepP50Ms: number;
  wallMs: number;
  appendMs: number;
  cpuMs: number;
}

/** The store with every method call timed into `calls` (a call's time: until it settles). */
function timedStore(inner: SessionStore, into: { method: string; ms: number }[]): SessionStore {
  return new Proxy(inner, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        const t = performance.now();
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
        const done = (): void => void into.push({ method: key, ms: performance.now() - t });
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
    },
  });
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** ms per step: by the innermost longrun (or dependency) file on each sample's stack, and by function. */
function summarizeProfile(p: CpuProfile, stepCount: number) {
  const parent = new Map<number, number>();
  const node = new Map(p.nodes.map((n) => [n.id, n]));
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byFile = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, us: number): void =>
    void m.set(k, (m.get(k) ?? 0) + us);
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const leaf = node.get(id);
    if (leaf === undefined) return;
    const f = leaf.callFrame;
    let file: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = node.get(at)?.callFrame.url ?? '';
      // Stopping the profiler (serializing it) is the profiler's time, not the run's.
      if (url === 'node:inspector') return;
      if (file === undefined && (url.includes('/packages/') || url.includes('node_modules')))
        file = shortUrl(url);
    }
    file ??= f.url === '' ? `(native) ${f.functionName}` : shortUrl(f.url);
    add(byFile, file, us);
    add(byArea, areaOf(file), us);
    add(bySelf, `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`, us);
    total += us;
  });
  const top = (m: Map<string, number>, n: number) =>
    Object.fromEntries(
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, us]) => [k, round(us / 1000 / stepCount, 4)]),
    );
  return {
    sampledMsPerStep: round(total / 1000 / stepCount, 4),
    msPerStepByArea: top(byArea, 20),
    msPerStepByInnermostFile: top(byFile, 40),
    msPerStepBySelf: top(bySelf, 40),
  };
}

function shortUrl(url: string): string {
  const at = url.indexOf('/packages/');
  if (at >= 0) return url.slice(at + '/packages/'.length);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url === '' ? '(native)' : url;
}
