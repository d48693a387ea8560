import { spawn, type StdioOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import { LongrunError, type ExecRequest, type ExecResult } from '@longrun/core';
import { killPids, type SandboxCgroup } from './cgroup.ts';
import { collectResult } from './collect-result.ts';
import { argsFd, seccompFd } from './bwrap-args.ts';

export interface BwrapCommand {
  /** The launcher argv (see bwrap-launch.ts), ending in `bwrap --args 4 -- command…`. */
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
 * Starts one command under bubblewrap. bubblewrap reads its options from a pipe to the end
 * before it makes a namespace or a process; the driver moves it into the sandbox's cgroup before
 * it writes them, in the same tick as the spawn, so that nothing of the command can run, let
 * alone fork, outside its limits. (Moving bubblewrap's sandbox init afterwards, once it has a
 * network namespace of its own, cost 4–11 ms in the v1 memory controller here, on every exec;
 * moving bubblewrap before costs ~0.1 ms.) A launcher that cannot be placed is killed before it
 * reads a byte of its options, and the exec fails with SANDBOX_UNAVAILABLE.
 */
export function runBwrap(command: BwrapCommand, request: ExecRequest): RunningCommand {
  const [file = '', ...launchArgs] = command.launch;
  const stdio: StdioOptions = [
    request.stdin === undefined ? 'ignore' : 'pipe',
    'pipe',
    'pipe',
    command.seccomp === null ? 'ignore' : 'pipe',
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
  const seccompPipe = child.stdio[seccompFd] as Writable | null;
  const argsPipe = child.stdio[argsFd] as Writable | null;
  for (const pipe of [seccompPipe, argsPipe]) {
    // bubblewrap failing early closes its ends; its stderr says why, in the result.
    pipe?.on('error', () => undefined);
  }
  // Background processes die with the namespace when the command (bubblewrap's init) exits.
  const result = collectResult(child, request, { kill, afterExit: () => undefined });
  const unplaced = placeInCgroup(child.pid, command.cgroup);
  if (unplaced !== null) {
    // SIGKILL first: an empty options pipe would let bubblewrap run the command unconfined.
    kill();
    argsPipe?.destroy();
    seccompPipe?.destroy();
    return { result: result.then(() => Promise.reject(unplaced)), kill };
  }
  seccompPipe?.end(command.seccomp);
  argsPipe?.end(Buffer.from(command.args.map((arg) => `${arg}\0`).join('')));
  return { result, kill };
}

/** Null once bubblewrap is in the cgroup (or there is none); else why it is not. */
function placeInCgroup(pid: number | undefined, cgroup: SandboxCgroup | null): LongrunError | null {
  if (pid === undefined || cgroup === null) return null; // not started: the result says why
  try {
    cgroup.join(pid);
    return null;
  } catch (error) {
    return new LongrunError(
      'SANDBOX_UNAVAILABLE',
      `cannot move the command into cgroup ${cgroup.name} (${(error as Error).message}); the sandbox is unusable: close it and open another`,
      { cause: error },
    );
  }
}
