/**
 * A stand-in worker process for the sandbox tests (run with `node`, not by Vitest). Modes:
 * - `fds <workspace>`: lists /proc/self/fd and reads every descriptor inside a bwrap sandbox
 *   (opened on demand, and claimed from a pool), and the same through the process driver (the control: it must show the inherited ones);
 *   prints one JSON line and exits.
 * - `sleep <workspace>`: opens a bwrap sandbox and runs `sleep 1000` in it, forever; the test
 *   kills this process with SIGKILL.
 */
import { SandboxPool, bwrapDriver, processDriver } from './index.ts';
import type { Sandbox, SandboxSpec } from '@longrun/core';

const [mode, workspaceDir = ''] = process.argv.slice(2);
const spec: SandboxSpec = {
  workspaceDir,
  env: { PATH: '/usr/bin:/bin' },
  limits: { memoryBytes: 256 << 20, pids: 64, cpuCores: 1, workspaceBytes: 64 << 20 },
  network: 'none',
};
// Reads every descriptor above stdio (reading stdout's own pipe back would block).
const listFds =
  'for f in /proc/self/fd/*; do echo "$f -> $(readlink $f)"; case $f in */[012]) ;; *) timeout 1 cat "$f" 2>/dev/null;; esac; done';

async function listInside(sandbox: Sandbox): Promise<string> {
  const result = await sandbox.exec({
    argv: ['/bin/sh', '-c', listFds],
    timeoutMs: 10_000,
    maxOutputBytes: 100_000,
  });
  await sandbox.close();
  return result.stdout + result.stderr;
}

if (mode === 'fds') {
  const driver = await bwrapDriver();
  const bwrap = await listInside(await driver.open(spec));
  // A pool's sandbox runs its commands through launchers started ahead (they close the fds).
  const pool = new SandboxPool({ driver, maxSandboxes: 1 });
  const pooled = await listInside(await pool.claim(spec));
  await pool.close();
  const control = await listInside(await processDriver().open(spec));
  process.stdout.write(`${JSON.stringify({ bwrap, pooled, control })}\n`);
} else if (mode === 'sleep') {
  const sandbox = await (await bwrapDriver()).open(spec);
  await sandbox.exec({
    argv: ['/bin/sh', '-c', 'echo $$ > /workspace/started; exec sleep 1000'],
    timeoutMs: 3_600_000,
    maxOutputBytes: 1_000,
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
