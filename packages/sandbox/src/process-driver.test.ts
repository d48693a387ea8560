import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxSpec } from '@longrun/core';
import { processDriver } from './process-driver.ts';
import { pollUntil } from './poll.ts';

let workspaceDir: string;
let sandbox: Sandbox;

const spec = (): SandboxSpec => ({
  workspaceDir,
  env: { PATH: '/usr/bin:/bin' },
  limits: { memoryBytes: 256 << 20, pids: 64, cpuCores: 1, workspaceBytes: 64 << 20 },
  network: 'none',
});

beforeEach(async () => {
  workspaceDir = mkdtempSync(join(tmpdir(), 'longrun-process-'));
  sandbox = await processDriver().open(spec());
});
afterEach(async () => {
  await sandbox.close();
  rmSync(workspaceDir, { recursive: true, force: true });
});

const base = { timeoutMs: 10_000, maxOutputBytes: 10_000 };

/** Running (a zombie waiting for this container's slow init to reap it is not). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('process driver', () => {
  it('runs argv in the workspace with only the spec env; a non-zero exit is a result', async () => {
    process.env.LONGRUN_PROCESS_CANARY = 'canary-value';
    const result = await sandbox.exec({ ...base, argv: ['/bin/sh', '-c', 'pwd; env; exit 3'] });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toContain(workspaceDir);
    expect(result.stdout).not.toContain('canary-value');
    const echo = await sandbox.exec({ ...base, argv: ['/bin/echo', '$HOME', '; rm -rf /'] });
    expect(echo.stdout).toBe('$HOME ; rm -rf /\n');
  });

  it("as root, runs commands as a uid of their own that cannot read the worker's environment", async () => {
    if (process.getuid?.() !== 0) {
      console.warn('process driver uid separation did NOT run: it needs root');
      expect(process.env.CI).not.toBe('true');
      return;
    }
    process.env.LONGRUN_PROCESS_CANARY = 'canary-in-worker-env';
    const result = await sandbox.exec({
      ...base,
      argv: [
        '/bin/sh',
        '-c',
        `id -u; cat /proc/${process.pid}/environ /proc/$PPID/environ; exit 0`,
      ],
    });
    expect(Number(result.stdout.split('\n')[0])).toBeGreaterThanOrEqual(0x70000000);
    expect(result.stdout + result.stderr).not.toContain('canary-in-worker-env');
    expect(result.stderr).toMatch(/Permission denied/);
    // What the worker writes, the command can change.
    await sandbox.files.writeFile('owned.txt', 'by the worker');
    const edit = await sandbox.exec({ ...base, argv: ['/bin/sh', '-c', 'echo more >> owned.txt'] });
    expect(edit.exitCode).toBe(0);
  });

  it('passes stdin, per-exec env and cwd; a missing program is exit 127', async () => {
    await sandbox.files.writeFile('sub/x.txt', 'x');
    const result = await sandbox.exec({
      ...base,
      argv: ['/bin/sh', '-c', 'cat; echo " $EXTRA"; pwd'],
      stdin: 'from stdin',
      env: { EXTRA: 'extra' },
      cwd: 'sub',
    });
    expect(result.stdout).toBe(`from stdin extra\n${join(workspaceDir, 'sub')}\n`);
    const missing = await sandbox.exec({ ...base, argv: ['/no/such/program'] });
    expect(missing.exitCode).toBe(127);
  });

  it('kills the whole process group on timeout', async () => {
    const result = await sandbox.exec({
      ...base,
      timeoutMs: 300,
      argv: ['/bin/sh', '-c', 'sleep 30 & echo $!; sleep 30'],
    });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(result.durationMs).toBeLessThan(5_000);
    const backgroundPid = Number(result.stdout.trim());
    expect(await pollUntil(2_000, () => !alive(backgroundPid))).toBe(true);
  });

  it('kills what a finished command left in the background', async () => {
    const result = await sandbox.exec({
      ...base,
      argv: ['/bin/sh', '-c', 'sleep 30 >/dev/null & echo $!'],
    });
    expect(result.exitCode).toBe(0);
    expect(await pollUntil(2_000, () => !alive(Number(result.stdout.trim())))).toBe(true);
  });

  it('caps output per stream and says so', async () => {
    const result = await sandbox.exec({
      ...base,
      maxOutputBytes: 1_000,
      argv: ['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" a; echo err >&2'],
    });
    expect(result.stdout).toHaveLength(1_000);
    expect(result.stderr).toBe('err\n');
    expect(result.truncated).toBe(true);
  });

  it('cancels through an AbortSignal', async () => {
    const controller = new AbortController();
    const running = sandbox.exec({
      ...base,
      argv: ['/bin/sleep', '30'],
      signal: controller.signal,
    });
    controller.abort();
    const result = await running;
    expect(result.cancelled).toBe(true);
    expect(result.durationMs).toBeLessThan(5_000);
  });

  it('reports that it isolates nothing, and strict refuses it', async () => {
    const report = await processDriver().protections();
    const enforced = report.protections.filter((p) => p.enforced).map((p) => p.name);
    expect(enforced).toEqual(['empty-env']);
    expect(report.protections.find((p) => p.name === 'seccomp')?.reason).toMatch(
      /isolates nothing/,
    );
    await expect(processDriver().open({ ...spec(), strict: true })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
    });
  });

  it('refuses bad input with INVALID_ARGUMENT and a closed sandbox with INVALID_STATE', async () => {
    await expect(sandbox.exec({ ...base, argv: [] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      sandbox.exec({ ...base, argv: ['/bin/true'], timeoutMs: -1 }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      processDriver().open({ ...spec(), workspaceDir: join(workspaceDir, 'missing') }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await sandbox.close();
    await expect(sandbox.exec({ ...base, argv: ['/bin/true'] })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });
});
