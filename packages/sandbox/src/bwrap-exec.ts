import { spawn, type StdioOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { ExecRequest, ExecResult } from '@longrun/core';
import { killPids, type SandboxCgroup } from './cgroup.ts';
import { collectResult } from './collect-result.ts';
import { argsFd, gateFd, seccompFd } from './bwrap-args.ts';
import { gateOpen } from './bwrap-launch.ts';

export interface BwrapCommand {
  /** The launcher argv (see bwrap-launch.ts), ending in `bwrap --args 5 -- command…`. */
  launch: readonly string[];
  /** bubblewrap's own arguments, sent through `argsFd`. */
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
 * Starts one command under bubblewrap. The launcher shell waits at its gate (see
 * bwrap-launch.ts) while the driver moves it into the sandbox's cgroup, in the same tick as the
 * spawn, so that nothing of the command can run, let alone fork, outside its limits.
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
  const [seccompPipe, gatePipe, argsPipe] = [seccompFd, gateFd, argsFd].map(
    (fd) => child.stdio[fd],
  );
  for (const pipe of [seccompPipe, gatePipe, argsPipe]) {
    // bubblewrap failing early closes its ends; its stderr says why, in the result.
    pipe?.on('error', () => undefined);
  }
  (seccompPipe as Writable | null)?.end(command.seccomp);
  (argsPipe as Writable).end(Buffer.from(command.args.map((arg) => `${arg}\0`).join('')));
  (gatePipe as Writable).end(placeInCgroup(child.pid, command.cgroup) ? gateOpen : undefined);
  // Background processes die with the namespace when the command (bubblewrap's init) exits.
  const afterExit = (): void => undefined;
  return { result: collectResult(child, request, { kill, afterExit }), kill };
}

/** False when the launcher could not be placed: its gate then closes empty and it exits 125. */
function placeInCgroup(pid: number | undefined, cgroup: SandboxCgroup | null): boolean {
  if (pid === undefined) return false;
  try {
    cgroup?.join(pid);
    return true;
  } catch {
    return false;
  }
}
