import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { runCommand, writeFile, readFile } from './attack-plan.ts';
import { attackerName } from './attacker-agent.ts';
import { baseEnv, startDev, type LongrunProcess } from './longrun-process.ts';
import { runAttack } from './session-api.ts';
import { WorkerVitals, type VitalsFigures } from './worker-vitals.ts';

/** The pass bars of TESTING.md's worker-side attacks. */
export const bars = { worstHealthMs: 1_000, rssGrowthMiB: 64 };

export interface AttackHarness {
  /** The `longrun dev` process's directory (its store and workspaces are in .longrun/). */
  readonly cwd: string;
  /** Host files the attacks aim at live here; nothing of the test's is elsewhere. */
  readonly hostDir: string;
  readonly url: string;
  readonly dev: LongrunProcess;
  readonly vitals: WorkerVitals;
  /** Lowercase hex from the file's seed, for names and secrets that must not collide. */
  token(chars?: number): string;
  /** The host directory of a session's workspace. */
  workspaceDir(sessionId: string): string;
}

function hexFrom(random: () => number, chars: number): string {
  let out = '';
  while (out.length < chars) out += Math.floor(random() * 16).toString(16);
  return out;
}

/**
 * Registers beforeAll/afterAll for one test file: a fresh directory, `longrun dev` with default
 * flags (so bubblewrap) and exactly `baseEnv` + `extraEnv`, a warm-up session, the worker's RSS
 * baseline, and a watch on its health and memory. The returned object is filled in beforeAll.
 */
export function attackHarness(
  label: string,
  options: {
    extraEnv?: (token: (chars?: number) => string) => Record<string, string>;
    /** How long `longrun dev` gets to stop cleanly before SIGKILL (default 15 s). */
    stopGraceMs?: number;
  } = {},
): AttackHarness {
  const random = seededRandom(testSeed(label));
  const token = (chars = 16) => hexFrom(random, chars);
  // Filled in by beforeAll; the tests read it only once that has run.
  const harness = { token } as { -readonly [K in keyof AttackHarness]: AttackHarness[K] } & {
    root?: string;
  };
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'longrun-attacks-'));
    const cwd = join(root, 'dev');
    const hostDir = join(root, 'host');
    mkdirSync(cwd);
    mkdirSync(hostDir);
    const env = { ...baseEnv(cwd), ...options.extraEnv?.(token) };
    const { process: dev, url } = await startDev(cwd, env);
    Object.assign(harness, {
      cwd,
      hostDir,
      url,
      dev,
      root,
      workspaceDir: (id: string) => join(cwd, '.longrun', 'workspaces', id),
    });
    // Loads everything a session touches (sandbox, workspace, snapshot code) before the baseline.
    const warmUp = await runAttack(url, attackerName, {
      turns: [[writeFile('warm.txt', 'warm'), readFile('warm.txt'), runCommand('cat warm.txt')]],
    });
    expect(warmUp.status).toBe('completed');
    const vitals = new WorkerVitals(url, dev.pid);
    harness.vitals = vitals;
    console.log(
      `[${label}] longrun dev pid ${dev.pid} at ${url}; RSS baseline ${await vitals.baseline()} MiB`,
    );
  }, 120_000);
  afterAll(async () => {
    const { vitals, dev, root } = harness as Partial<AttackHarness> & { root?: string };
    await vitals?.stop();
    await dev?.stop(options.stopGraceMs);
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  }, 60_000);
  return harness;
}

/** The worker stayed healthy through an attack: the bars of TESTING.md. */
export function expectWorkerHealthy(figures: VitalsFigures): void {
  expect(figures.healthChecks, 'health was checked during the attack').toBeGreaterThan(0);
  expect(figures.healthFailures, 'failed health checks').toBe(0);
  expect(figures.worstHealthMs, 'worst /v1/health latency (ms)').toBeLessThan(bars.worstHealthMs);
  expect(figures.rssGrowthMiB, 'worker RSS growth over its baseline (MiB)').toBeLessThanOrEqual(
    bars.rssGrowthMiB,
  );
}
