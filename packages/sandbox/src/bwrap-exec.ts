import { spawn, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExecRequest, ExecResult } from '@longrun/core';
import { killPids, type SandboxCgroup } from './cgroup.ts';
import { collectResult } from './collect-result.ts';

export interface BwrapCommand {
  /** The launcher argv (see bwrap-launch.ts), ending in `bwrap --args 6`. */
  launch: readonly string[];
  /** bubblewrap's own arguments, sent through descriptor 6. */
  args: readonly string[];
  seccomp: Uint8Array | null;
  /** Host uid/gid to run as (root only), else the worker's own. */
  owner: { uid: number; gid: number } | null;
  cgroup: SandboxCgroup | null;
}

export interface RunningCommand {
  result: Promise<ExecResult>;
  kill(): void;
}

/**
 * Starts one command under bubblewrap. bubblewrap blocks its sandbox (`--block-fd`) right after
 * creating the namespaces; the driver reads the sandbox init's pid (`--info-fd`), moves it into
 * the sandbox's cgroup, and only then lets it go, so that nothing of the command can run, let
 * alone fork, outside its limits.
 */
export function runBwrap(command: BwrapCommand, request: ExecRequest): RunningCommand {
  const [file = '', ...launchArgs] = command.launch;
  const stdio: StdioOptions = [
    request.stdin === undefined ? 'ignore' : 'pipe',
    'pipe',
    'pipe',
    command.seccomp === null ? 'ignore' : 'pipe',
    'pipe',
    'pipe',
    'pipe',
  ];
  const child = spawn(file, launchArgs, {
    env: {},
    cwd: '/',
    stdio,
    ...(command.owner ?? {}),
  });
  // Killing bubblewrap is enough: the kernel then SIGKILLs the sandbox's init
  // (--die-with-parent), and the death of a pid namespace's init kills everything in it. The
  // cgroup is not used here: it is shared by the sandbox's concurrent commands. Once node has
  // seen the exit, the pid may be reaped and reused: never signal it then.
  let exited = false;
  child.once('exit', () => (exited = true));
  const kill = (): void => {
    if (!exited && child.pid !== undefined) killPids([child.pid]);
  };
  const [seccompPipe, infoPipe, blockPipe, argsPipe] = [3, 4, 5, 6].map((fd) => child.stdio[fd]);
  for (const pipe of [seccompPipe, infoPipe, blockPipe, argsPipe]) {
    // bubblewrap failing early closes its ends; its stderr says why, in the result.
    pipe?.on('error', () => undefined);
  }
  (seccompPipe as Writable | null)?.end(command.seccomp);
  (argsPipe as Writable).end(Buffer.from(command.args.map((arg) => `${arg}\0`).join('')));
  onInfo(infoPipe as Readable, (pid) => {
    try {
      command.cgroup?.join(pid);
    } catch {
      kill();
      return;
    }
    (blockPipe as Writable).end('x');
  });
  // Background processes die with the namespace when the command (bubblewrap's init) exits.
  const afterExit = (): void => undefined;
  return { result: collectResult(child, request, { kill, afterExit }), kill };
}

/** Calls `use` with the sandbox init's host pid once bubblewrap has written its info JSON. */
function onInfo(pipe: Readable, use: (childPid: number) => void): void {
  let text = '';
  let done = false;
  pipe.on('data', (chunk: Buffer) => {
    if (done) return;
    text += chunk.toString('utf8');
    let info: unknown;
    try {
      info = JSON.parse(text);
    } catch {
      return; // not complete yet
    }
    done = true;
    const pid = (info as { 'child-pid'?: unknown })['child-pid'];
    if (typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0) use(pid);
  });
}
