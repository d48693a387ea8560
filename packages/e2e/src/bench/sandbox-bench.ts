import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ExecRequest, SandboxSpec } from '@longrun/core';
import {
  SandboxPool,
  bwrapDriver,
  isolationGaps,
  processDriver,
  type PreparableDriver,
} from '@longrun/sandbox';
import { section } from './sections.ts';
import { round, summary } from './stats.ts';

const trueRequest: ExecRequest = { argv: ['/bin/true'], timeoutMs: 10_000, maxOutputBytes: 1_000 };

/**
 * Sandbox start and a `/bin/true` through the port, for both drivers, without and with the
 * warm pool. Targets: start p50 ≤ 20 ms, exec end to end p50 ≤ 25 ms, and the pool's open plus
 * exec within 2 × bareBwrapMs.
 * - startMs: `driver.open()` (no pool) or `pool.claim()` of a ready sandbox (pool);
 * - execMs: one exec of /bin/true in an open sandbox;
 * - openExecMs: start plus that exec: what a tool call pays when it needs a fresh sandbox;
 * - closeMs: `close()` (kill, cgroup removal, workspace copy-back and unmount);
 * - bareBwrapMs: the floor, `bwrap --unshare-all --ro-bind / / /bin/true` spawned from this
 *   process, half the rounds before the bwrap driver's and half after, so both see one load.
 */
export async function measureSandbox(options: { quick: boolean; bwrapPath?: string }) {
  const rounds = options.quick ? 30 : 200;
  const workspaceDir = mkdtempSync(join(tmpdir(), 'longrun-bench-sandbox-'));
  const spec: SandboxSpec = {
    workspaceDir,
    env: { PATH: '/usr/bin:/bin' },
    limits: { memoryBytes: 512 << 20, pids: 256, cpuCores: 1, workspaceBytes: 256 << 20 },
    network: 'none',
  };
  const bwrapPath = options.bwrapPath ?? process.env.LONGRUN_BWRAP ?? '/usr/bin/bwrap';
  const bareMs: number[] = [];
  const measureBare = () =>
    section('sandbox, bare bubblewrap', async () => {
      bareMs.push(...(await measureBareBwrap(bwrapPath, rounds / 2)));
    });
  try {
    const processFigures = await section('sandbox, process driver', () =>
      measureDriver(processDriver(), spec, rounds),
    );
    const bareBefore = await measureBare();
    // Where bubblewrap is missing or does not isolate, this half is skipped, saying why.
    const bwrapFigures = await section('sandbox, bwrap driver', async () => {
      const bwrap = await bwrapDriver({ bwrapPath });
      const report = await bwrap.protections();
      const gaps = isolationGaps(report);
      if (gaps.length > 0) {
        const missing = gaps.map((g) => `${g.name}: ${g.reason}`).join('; ');
        throw new Error(`bubblewrap does not isolate here (${missing})`);
      }
      const enforced = report.protections.filter((p) => p.enforced).length;
      return {
        protectionsEnforced: `${enforced}/${report.protections.length}`,
        ...(await measureDriver(bwrap, spec, rounds)),
      };
    });
    const bareAfter = await measureBare();
    return {
      rounds,
      process: processFigures,
      bareBwrapMs: bareMs.length > 0 ? summary(bareMs) : (bareBefore ?? bareAfter),
      bwrap: bwrapFigures,
    };
  } finally {
    rmSync(workspaceDir, { recursive: true, force: true });
  }
}

/** Wall times of a bare bubblewrap running /bin/true, spawned the way the driver spawns it. */
async function measureBareBwrap(bwrapPath: string, rounds: number): Promise<number[]> {
  const args = ['--unshare-all', '--ro-bind', '/', '/', '/bin/true'];
  const timesMs: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    const code = await new Promise((resolve, reject) => {
      const child = spawn(bwrapPath, args, { stdio: 'ignore', env: {} });
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`${bwrapPath} ${args.join(' ')} exited ${String(code)}`);
    timesMs.push(performance.now() - t0);
  }
  return timesMs;
}

async function measureDriver(driver: PreparableDriver, spec: SandboxSpec, rounds: number) {
  // Warm-up, not recorded.
  for (let i = 0; i < 5; i += 1) await (await driver.open(spec)).close();
  return {
    noPool: await measureRounds(rounds, () => driver.open(spec)),
    pool: await measurePool(driver, spec, rounds),
  };
}

async function measurePool(driver: PreparableDriver, spec: SandboxSpec, rounds: number) {
  const pool = new SandboxPool({ driver, maxSandboxes: 4 });
  try {
    const figures = await measureRounds(
      rounds,
      () => pool.claim(spec),
      // Measure warm claims: let the background refill finish first (bounded wait, not timed).
      async () => {
        for (let i = 0; i < 1_000 && pool.stats().ready < 4; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      },
    );
    const { provisioningMsP50, provisioningMsP99 } = pool.stats();
    return {
      ...figures,
      provisioningMs: { p50: round(provisioningMsP50), p99: round(provisioningMsP99) },
    };
  } finally {
    await pool.close();
  }
}

async function measureRounds(
  rounds: number,
  start: () => Promise<{ exec(r: ExecRequest): Promise<unknown>; close(): Promise<void> }>,
  beforeEach: () => Promise<void> = async () => undefined,
) {
  const startMs: number[] = [];
  const execMs: number[] = [];
  const openExecMs: number[] = [];
  const closeMs: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    await beforeEach();
    const t0 = performance.now();
    const sandbox = await start();
    const t1 = performance.now();
    await sandbox.exec(trueRequest);
    const t2 = performance.now();
    await sandbox.exec(trueRequest);
    const t3 = performance.now();
    await sandbox.close();
    const t4 = performance.now();
    startMs.push(t1 - t0);
    openExecMs.push(t2 - t0);
    execMs.push(t3 - t2);
    closeMs.push(t4 - t3);
  }
  return {
    startMs: summary(startMs),
    execMs: summary(execMs),
    openExecMs: summary(openExecMs),
    closeMs: summary(closeMs),
  };
}
