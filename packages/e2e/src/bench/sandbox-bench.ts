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
 * warm pool. Targets: start p50 ≤ 20 ms, exec end to end p50 ≤ 25 ms.
 * - startMs: `driver.open()` (no pool) or `pool.claim()` of a ready sandbox (pool);
 * - execMs: one exec of /bin/true in an open sandbox;
 * - openExecMs: start plus that exec: what a tool call pays when it needs a fresh sandbox;
 * - closeMs: `close()` (kill, cgroup removal, workspace copy-back and unmount).
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
  try {
    return {
      rounds,
      process: await section('sandbox, process driver', () =>
        measureDriver(processDriver(), spec, rounds),
      ),
      // Where bubblewrap is missing or does not isolate, this half is skipped, saying why.
      bwrap: await section('sandbox, bwrap driver', async () => {
        const bwrapPath = options.bwrapPath ?? process.env.LONGRUN_BWRAP;
        const bwrap = await bwrapDriver(bwrapPath === undefined ? {} : { bwrapPath });
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
      }),
    };
  } finally {
    rmSync(workspaceDir, { recursive: true, force: true });
  }
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
    const figures = await measureRounds(rounds, async () => {
      // Measure warm claims: let the background refill finish first (bounded wait).
      for (let i = 0; i < 1_000 && pool.stats().ready < 4; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return pool.claim(spec);
    });
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
) {
  const startMs: number[] = [];
  const execMs: number[] = [];
  const openExecMs: number[] = [];
  const closeMs: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
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
