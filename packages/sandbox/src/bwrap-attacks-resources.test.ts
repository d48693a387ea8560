import { readdirSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, afterAll } from 'vitest';
import { bwrapDriver, type BwrapDriver } from './bwrap-driver.ts';
import {
  defaultLimits,
  newWorkspace,
  python,
  sh,
  withSandbox,
  removeWorkspaces,
} from './bwrap-test-support.ts';

afterAll(removeWorkspaces);

/**
 * TESTING.md's sandbox rows, part 2: exhausting the machine. Each bomb must be stopped at the
 * sandbox's own limit, and the host left as it was (withSandbox checks processes, cgroups and
 * mounts after every row). Writable space is only where a cap holds: the root and /dev are
 * read-only.
 */
let driver: BwrapDriver;
beforeAll(async () => {
  driver = await bwrapDriver();
});

const MiB = 1024 * 1024;

function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

describe('bwrap attacks: exhausting resources', () => {
  it('a fork bomb is stopped by the pids limit', async () => {
    const limits = { ...defaultLimits, pids: 32 };
    await withSandbox(driver, { limits }, async ({ sandbox }) => {
      const counted = await python(
        sandbox,
        `
import os, time
n = 0
try:
    while n < 10000:
        if os.fork() == 0:
            time.sleep(60); os._exit(0)
        n += 1
except OSError as e:
    print("stopped", n, e.errno)
`,
        { timeoutMs: 30_000 },
      );
      const [word, forks, errno] = counted.stdout.trim().split(' ');
      expect(word).toBe('stopped');
      expect(Number(forks)).toBeLessThan(32);
      expect(Number(errno)).toBe(11); // EAGAIN
      // The classic shell bomb: whether it ends by itself or by the timeout, the result is back
      // promptly and nothing of it survives (withSandbox checks the host afterwards).
      const bomb = await sh(sandbox, 'b() { b | b & }; b; sleep 60', { timeoutMs: 2_000 });
      expect(bomb.durationMs).toBeLessThan(10_000);
    });
  });

  it('a memory bomb is OOM-killed at the memory limit', async () => {
    const limits = { ...defaultLimits, memoryBytes: 64 * MiB };
    await withSandbox(driver, { limits }, async ({ sandbox }) => {
      const result = await python(
        sandbox,
        `
import sys
chunks = []
while len(chunks) < 256:
    chunks.append(b"x" * (8 << 20))
    print(len(chunks) * 8, flush=True)
print("allocated everything", flush=True)
`,
        { timeoutMs: 30_000 },
      );
      expect(result.stdout).not.toContain('allocated everything');
      // bubblewrap reports a command killed by signal n as 128 + n, like a shell: SIGKILL.
      expect(result.exitCode).toBe(137);
      const reachedMiB = Number(result.stdout.trim().split('\n').at(-1));
      expect(reachedMiB).toBeLessThanOrEqual(64);
    });
  });

  it('filling the disk stops at the workspace cap (bytes, files, /tmp and /dev/shm); the host disk is untouched', async () => {
    const limits = { ...defaultLimits, workspaceBytes: 8 * MiB };
    const workspaceDir = newWorkspace();
    const hostFreeBefore = statfsSync(workspaceDir).bavail * statfsSync(workspaceDir).bsize;
    await withSandbox(driver, { limits, workspaceDir }, async ({ sandbox }) => {
      const fill = await sh(
        sandbox,
        'dd if=/dev/zero of=/workspace/big bs=1M count=64; dd if=/dev/zero of=/tmp/big bs=1M count=64; ' +
          'dd if=/dev/zero of=/dev/shm/big bs=1M count=64; du -k /workspace/big /tmp/big /dev/shm/big',
      );
      expect(fill.stderr).toContain('No space left on device');
      const sizesKiB = fill.stdout
        .trim()
        .split('\n')
        .map((line) => Number(line.split(/\s+/)[0]));
      expect(sizesKiB).toHaveLength(3);
      for (const kib of sizesKiB) expect(kib).toBeLessThanOrEqual(8 * 1024);
      const files = await python(
        sandbox,
        `
import os
n = 0
try:
    while n < 100000:
        open(f"/workspace/f{n}", "w").close(); n += 1
except OSError as e:
    print(n, e.errno)
`,
      );
      const [created, errno] = files.stdout.trim().split(' ').map(Number);
      expect(errno).toBe(28); // ENOSPC: out of inodes
      expect(created).toBeLessThan(2_000);
      await sh(sandbox, 'rm -f /workspace/f*');
    });
    const hostFreeAfter = statfsSync(workspaceDir).bavail * statfsSync(workspaceDir).bsize;
    // Copied back at close: at most the cap. (Other test runs share this disk: generous slack.)
    expect(treeBytes(workspaceDir)).toBeLessThanOrEqual(8 * MiB);
    expect(hostFreeBefore - hostFreeAfter).toBeLessThan(64 * MiB);
  });

  it('the root and /dev are read-only: only /workspace, /tmp and /dev/shm take writes', async () => {
    await withSandbox(driver, {}, async ({ sandbox }) => {
      const result = await python(
        sandbox,
        `
import json, os
def attempt(write):
    try:
        write(); return 0
    except OSError as e:
        return e.errno
def create(path):
    return lambda: open(path, "w").close()
print(json.dumps({
    "refused": {
        "create /x": attempt(create("/x")),
        "create /etc/x": attempt(create("/etc/x")),
        "create /usr/x": attempt(create("/usr/x")),
        "create /bin/x": attempt(create("/bin/x")),
        "create /dev/x": attempt(create("/dev/x")),
        "mkdir /newdir": attempt(lambda: os.mkdir("/newdir")),
        "symlink /link": attempt(lambda: os.symlink("/tmp", "/link")),
        "chmod /": attempt(lambda: os.chmod("/", 0o777)),
        "chmod /dev": attempt(lambda: os.chmod("/dev", 0o777)),
        "rename /tmp": attempt(lambda: os.rename("/tmp", "/tmp2")),
    },
    "allowed": {
        "create /workspace/x": attempt(create("/workspace/x")),
        "create /tmp/x": attempt(create("/tmp/x")),
        "create /dev/shm/x": attempt(create("/dev/shm/x")),
        "write /dev/null": attempt(lambda: open("/dev/null", "w").write("x")),
    },
}))
`,
      );
      const { refused, allowed } = JSON.parse(result.stdout) as Record<
        'refused' | 'allowed',
        Record<string, number>
      >;
      const EROFS = 30;
      expect(Object.keys(refused)).toHaveLength(10);
      expect(Object.entries(refused).filter(([, errno]) => errno !== EROFS)).toEqual([]);
      expect(Object.values(allowed)).toEqual([0, 0, 0, 0]);
      // Python's multiprocessing locks are POSIX semaphores in /dev/shm.
      const lock = await python(
        sandbox,
        'import multiprocessing; multiprocessing.Lock(); print("ok")',
      );
      expect(lock.stdout).toBe('ok\n');
      const mounts = await sh(sandbox, 'cut -d" " -f5,6 /proc/self/mountinfo');
      const options = new Map(
        mounts.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      expect(options.get('/')).toMatch(/^ro,/);
      expect(options.get('/dev')).toMatch(/^ro,/);
      expect(options.get('/dev/shm')).toMatch(/^rw,/);
    });
  });

  it('burning CPU is held to the cpu quota, and the timeout kills it', async () => {
    const limits = { ...defaultLimits, cpuCores: 0.25 };
    await withSandbox(driver, { limits }, async ({ sandbox }) => {
      const share = await python(
        sandbox,
        `
import time
start_wall, start_cpu = time.monotonic(), time.process_time()
while time.monotonic() - start_wall < 2:
    pass
print((time.process_time() - start_cpu) / (time.monotonic() - start_wall))
`,
      );

      const cpuShare = Number(share.stdout.trim());
      expect(cpuShare).toBeGreaterThan(0);
      expect(cpuShare).toBeLessThan(0.45);
      const spin = await python(sandbox, 'while True: pass', { timeoutMs: 500 });
      expect(spin.timedOut).toBe(true);
      expect(spin.signal).toBe('SIGKILL');
      expect(spin.durationMs).toBeLessThan(5_000);
    });
  });
});
