import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../faults/bounded-wait.ts';

const longrunMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
export const attackerModule = fileURLToPath(new URL('./attacker-agent.ts', import.meta.url));

/**
 * The only environment a longrun process of these tests gets (plus what a test adds, such as
 * canaries): nothing of the test runner's own leaks in, so a canary is the one secret there.
 */
export function baseEnv(cwd: string): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: cwd,
    LANG: 'C.UTF-8',
  };
}

export interface LongrunProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** The first match of `pattern` in stdout+stderr; rejects on exit or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /**
   * SIGTERM (a clean stop unmounts the capped workspaces), SIGKILL after `graceMs`, then
   * unmounts whatever workspace cap under `cwd` a killed process left behind.
   */
  stop(graceMs?: number): Promise<void>;
}

/** `longrun <args>` (this checkout's CLI) as a child process with exactly `env`. */
export function startLongrun(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): LongrunProcess {
  const child = spawn(process.execPath, ['--conditions=@longrun/source', longrunMain, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start longrun ${args.join(' ')}`);
  const pid = child.pid;
  let out = '';
  let err = '';
  let running = true;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  child.stdout?.on('data', (c: Buffer) => ((out += c.toString()), notify()));
  child.stderr?.on('data', (c: Buffer) => ((err += c.toString()), notify()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => ((running = false), notify(), resolve(code))),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`no ${pattern} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const match = pattern.exec(out + err);
        if (match !== null) done(null, match);
        else if (!running) done(new Error(`longrun exited before ${pattern}:\n${out}${err}`));
      };
      const done = (error: Error | null, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error === null && match !== undefined) resolve(match);
        else reject(error ?? new Error('no match'));
      };
      listeners.add(check);
      check();
    });
  const stop = async (graceMs = 15_000) => {
    if (running) child.kill('SIGTERM');
    if ((await within(exited, graceMs)) === null && running) {
      process.kill(pid, 'SIGKILL');
      await exited;
      unmountLeftCaps(cwd);
      removeLeftDirs(pid);
    }
  };
  return { child, pid, stdout: () => out, stderr: () => err, exited, waitForOutput, stop };
}

/**
 * Workspace caps (tmpfs `longrun-ws`) bound under `cwd`, and the staging mounts of the same
 * tmpfs: left only by a process killed before it could release them. Only mounts of this test's
 * own directory are touched.
 */
function unmountLeftCaps(cwd: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => {
      const [before = '', after = ''] = line.split(' - ');
      const fields = before.split(' ');
      return { device: fields[2], point: fields[4] ?? '', source: after.split(' ')[1] };
    })
    .filter((m) => m.source === 'longrun-ws');
  const ours = new Set(mounts.filter((m) => m.point.startsWith(`${cwd}/`)).map((m) => m.device));
  for (const m of mounts.filter((m) => ours.has(m.device)).reverse()) {
    spawnSync('umount', ['-l', m.point], { stdio: 'ignore', timeout: 10_000 });
  }
}

/**
 * The empty staging directories and cgroups a killed worker leaves (named `lr-<pid>-…`, see
 * sandbox-names.ts); the next driver would sweep them, this test need not leave them to it.
 */
function removeLeftDirs(pid: number): void {
  for (const parent of ['/run/longrun-sandbox', '/sys/fs/cgroup/longrun']) {
    let names: string[] = [];
    try {
      names = readdirSync(parent).filter((name) => name.startsWith(`lr-${pid}-`));
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        rmdirSync(join(parent, name));
      } catch {
        // Not empty or already gone: the next driver's sweep deals with it.
      }
    }
  }
}

/** `longrun dev` on a free port in `cwd` with the attacker agents; resolves once it serves. */
export async function startDev(
  cwd: string,
  env: Record<string, string>,
  extraArgs: string[] = [],
): Promise<{ process: LongrunProcess; url: string }> {
  const args = ['dev', '--agents', attackerModule, '--port', '0', ...extraArgs];
  const dev = startLongrun(args, cwd, env);
  try {
    const match = await dev.waitForOutput(/longrun dev: (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    return { process: dev, url: match[1] ?? '' };
  } catch (error) {
    await dev.stop();
    throw error;
  }
}
