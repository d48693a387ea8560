import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, afterAll } from 'vitest';
import { bwrapDriver, type BwrapDriver } from './bwrap-driver.ts';
import { pollUntil } from './poll.ts';
import {
  defaultLimits,
  newWorkspace,
  processesOfUid,
  sh,
  specFor,
  withSandbox,
  removeWorkspaces,
} from './bwrap-test-support.ts';

afterAll(removeWorkspaces);

let driver: BwrapDriver;
beforeAll(async () => {
  driver = await bwrapDriver();
});

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('bwrap driver', () => {
  it('runs argv at /workspace with the spec env, stdin and cwd; a non-zero exit is a result', async () => {
    await withSandbox(
      driver,
      { env: { PATH: '/usr/bin:/bin', GREETING: 'hi' } },
      async ({ sandbox }) => {
        await sandbox.files.writeFile('sub/in.txt', 'from the worker');
        const result = await sandbox.exec({
          argv: ['/bin/sh', '-c', 'cat; echo " $GREETING $EXTRA"; pwd; cat in.txt; exit 7'],
          cwd: 'sub',
          env: { EXTRA: 'there' },
          stdin: 'input',
          timeoutMs: 10_000,
          maxOutputBytes: 10_000,
        });
        expect(result).toMatchObject({
          exitCode: 7,
          signal: null,
          timedOut: false,
          truncated: false,
        });
        expect(result.stdout).toBe('input hi there\n/workspace/sub\nfrom the worker');
        const argv = await sandbox.exec({
          argv: ['/bin/echo', '$(id)', '; rm -rf /'],
          timeoutMs: 10_000,
          maxOutputBytes: 100,
        });
        expect(argv.stdout).toBe('$(id) ; rm -rf /\n');
        const missing = await sandbox.exec({
          argv: ['/no/such'],
          timeoutMs: 10_000,
          maxOutputBytes: 1_000,
        });
        expect(missing.exitCode).not.toBe(0);
      },
    );
  });

  it('times out, cancels and caps output; nothing a command started outlives it', async () => {
    await withSandbox(driver, {}, async ({ sandbox, uid }) => {
      const slow = await sh(sandbox, 'sleep 60', { timeoutMs: 300 });
      expect(slow).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
      expect(slow.durationMs).toBeLessThan(5_000);
      const controller = new AbortController();
      const cancelled = sh(sandbox, 'sleep 60', { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      expect(await cancelled).toMatchObject({ cancelled: true, timedOut: false });
      const loud = await sh(sandbox, 'head -c 1000000 /dev/zero | tr "\\0" a', {
        maxOutputBytes: 4_096,
      });
      expect(loud.stdout).toHaveLength(4_096);
      expect(loud.truncated).toBe(true);
      const background = await sh(sandbox, 'sleep 60 > /dev/null 2>&1 & echo started');
      expect(background.stdout).toBe('started\n');
      // The namespace dies with the command; the kernel kills the rest a moment later.
      expect(await pollUntil(1_000, () => processesOfUid(uid).length === 0)).toBe(true);
    });
  });

  it('runs commands of one sandbox concurrently, sharing its workspace', async () => {
    await withSandbox(driver, {}, async ({ sandbox }) => {
      const runs = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          sh(sandbox, `echo ${n} > /workspace/file-${n}; cat /workspace/file-${n}`),
        ),
      );
      expect(runs.map((r) => r.stdout.trim())).toEqual(['1', '2', '3', '4']);
      expect(text(await sandbox.files.readFile('file-3'))).toBe('3\n');
    });
  });

  it('copies the workspace in at open and back at close, ownership returned to the host', async () => {
    const workspaceDir = newWorkspace();
    writeFileSync(join(workspaceDir, 'before.txt'), 'before');
    const sandbox = await driver.open(specFor(workspaceDir));
    await sh(sandbox, 'echo after > after.txt; rm before.txt');
    // While open, the host path shows the live (capped) content: the snapshotter reads it there.
    expect(readFileSync(join(workspaceDir, 'after.txt'), 'utf8')).toBe('after\n');
    await sandbox.close();
    await sandbox.close();
    expect(readFileSync(join(workspaceDir, 'after.txt'), 'utf8')).toBe('after\n');
    expect(() => readFileSync(join(workspaceDir, 'before.txt'))).toThrow();
    await expect(sh(sandbox, 'true')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(sandbox.files.readFile('after.txt')).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });

  it('refuses a workspace bigger than its cap, and leaves nothing mounted', async () => {
    const workspaceDir = newWorkspace();
    writeFileSync(join(workspaceDir, 'big.bin'), Buffer.alloc(3 * 1024 * 1024));
    const limits = { ...defaultLimits, workspaceBytes: 1024 * 1024 };
    await expect(driver.open(specFor(workspaceDir, { limits }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(workspaceDir);
  });

  it('common tools work under the seccomp filter and the read-only root', async () => {
    // sh and python3 are required by these suites; the others are checked when installed.
    const checks: Record<string, [script: string, expected: string]> = {
      sh: ['echo ok', 'ok'],
      python3: [
        'python3 -c "import multiprocessing, socket, subprocess; multiprocessing.Lock(); print(socket.if_nameindex()[0][1], subprocess.run([\'true\']).returncode)"',
        'lo 0',
      ],
      node: [
        'node -e "console.log(Object.keys(require(\'os\').networkInterfaces()).join())"',
        'lo',
      ],
      git: [
        'cd /tmp && git init -q r && cd r && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m x && git rev-list --count HEAD',
        '1',
      ],
      gcc: [
        'printf "int main(void){return 0;}" > /tmp/a.c && gcc -o /tmp/a /tmp/a.c && /tmp/a && echo built',
        'built',
      ],
      make: [
        'printf "all:\\n\\t@echo made\\n" > /tmp/Makefile && make -s -f /tmp/Makefile',
        'made',
      ],
    };
    const installed = Object.keys(checks).filter((tool) => existsSync(`/usr/bin/${tool}`));
    const absent = Object.keys(checks).filter((tool) => !installed.includes(tool));
    if (absent.length > 0)
      console.error(`[sandbox] not installed, not checked: ${absent.join(', ')}`);
    expect(installed).toEqual(expect.arrayContaining(['sh', 'python3']));
    await withSandbox(driver, {}, async ({ sandbox }) => {
      for (const tool of installed) {
        const [script, expected] = checks[tool] ?? ['', ''];
        const result = await sh(sandbox, script, { timeoutMs: 60_000 });
        expect({ tool, out: result.stdout.trim(), exit: result.exitCode }).toEqual({
          tool,
          out: expected,
          exit: 0,
        });
      }
    });
  });

  it('without bubblewrap it reports every protection missing with the reason, and strict refuses', async () => {
    const missing = await bwrapDriver({ bwrapPath: '/nonexistent/bwrap' });
    const report = await missing.protections();
    expect(
      report.protections.every((p) => !p.enforced && p.reason.includes('install bubblewrap')),
    ).toBe(true);
    await expect(missing.open(specFor(newWorkspace(), { strict: true }))).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
    });
    // With everything enforced, strict opens.
    await withSandbox(driver, { strict: true }, async ({ sandbox }) => {
      expect((await sh(sandbox, 'true')).exitCode).toBe(0);
    });
  });
});
