import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cliMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
export const bundleAgentModule = fileURLToPath(new URL('./bundle-agent.ts', import.meta.url));
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');

/** `longrun <args>` run to its end (bounded), in `cwd`, with the environment given. */
export function longrun(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=@longrun/source', cliMain, ...args], {
    cwd,
    env: { ...process.env, NODE_COMPILE_CACHE: compileCache, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A `longrun worker` process for the bundle agent; killed with SIGKILL or stopped with SIGTERM. */
export class BundleWorker {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(storeUrl: string, workerId: string, cwd: string, env: Record<string, string>) {
    const args = ['--conditions=@longrun/source', cliMain, 'worker', '--store', storeUrl];
    args.push('--agents', bundleAgentModule, '--worker-id', workerId, '--lease-ms', '3000');
    this.child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, NODE_COMPILE_CACHE: compileCache, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
