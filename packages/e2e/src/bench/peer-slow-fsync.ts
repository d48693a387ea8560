import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { straceArgs, straceFound } from '../storage-faults/strace.ts';
import { percentile, round } from './stats.ts';

/** Group commit on a slow disk: the peer workload's steps/s with every fsync made slow. */
export interface SlowFsyncGrouping {
  /** Added to every fsync and fdatasync of the store's process (strace's delay_enter). */
  fsyncDelayMs: number;
  /** Medians over the rounds, steps/s. */
  c1: number;
  c32: number;
  c32OverC1: number;
  appendsPerCommit: { c1: number; c32: number };
}

export interface SlowFsyncSizes {
  fsyncDelayMs: number;
  steps: number;
  /** The sessions of the runs reported as c32. */
  sessions: number;
  rounds: number;
}

interface ChildRun {
  sessions: number;
  stepsPerSecond: number;
  appendsPerCommit: number;
}

/**
 * "Group commit that groups, on any disk" (issue 12): on this machine's disk a fsync takes a
 * fraction of a millisecond, and 32 sessions are limited by CPU, not by commits. Here the
 * workload runs in a process of its own under strace, which delays every fsync and fdatasync by
 * `fsyncDelayMs` (a network or spinning disk). One session then waits one slow commit a step:
 * the result of its tool, idempotent and outside any workspace, is committed with the next model
 * response (agent-calls.ts, appendAhead). 32 sessions go as fast as their appends share
 * commits. SQLite only (a Postgres server's fsyncs are the server's). Skipped, saying why,
 * without strace.
 */
export async function measureSlowFsyncGrouping(
  sizes: SlowFsyncSizes,
): Promise<SlowFsyncGrouping | { skipped: string }> {
  if (!straceFound) return { skipped: 'strace is not installed (apt-get install strace)' };
  const dir = mkdtempSync(join(tmpdir(), 'longrun-slow-fsync-peer-'));
  try {
    const runs = await runChild(dir, sizes);
    const median = (sessions: number, figure: (run: ChildRun) => number) =>
      percentile(runs.filter((r) => r.sessions === sessions).map(figure), 50);
    const c1 = median(1, (r) => r.stepsPerSecond);
    const c32 = median(sizes.sessions, (r) => r.stepsPerSecond);
    return {
      fsyncDelayMs: sizes.fsyncDelayMs,
      c1: Math.round(c1),
      c32: Math.round(c32),
      c32OverC1: round(c32 / c1, 2),
      appendsPerCommit: {
        c1: round(
          median(1, (r) => r.appendsPerCommit),
          2,
        ),
        c32: round(
          median(sizes.sessions, (r) => r.appendsPerCommit),
          2,
        ),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runChild(dir: string, sizes: SlowFsyncSizes): Promise<ChildRun[]> {
  const child = spawn(
    'strace',
    [
      ...straceArgs(`fsync,fdatasync:delay_enter=${Math.round(sizes.fsyncDelayMs * 1000)}`),
      process.execPath,
      join(import.meta.dirname, 'peer-slow-fsync-child.ts'),
      dir,
      String(sizes.steps),
      String(sizes.sessions),
      String(sizes.rounds),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`the slow-fsync peer process exited with ${code}: ${stderr}`);
  return (JSON.parse(stdout) as { runs: ChildRun[] }).runs;
}
