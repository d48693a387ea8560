import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { LongrunError, type ExecRequest, type ExecResult } from '@longrun/core';
import { killPids, type SandboxCgroup } from './cgroup.ts';
import { collectResult } from './collect-result.ts';
import { argsFd, seccompFd } from './bwrap-args.ts';
import { commandEnd, commandFd, launchArgv, type HostTools } from './bwrap-launch.ts';

/** What every launcher of one sandbox shares. */
export interface LauncherSetup {
  tools: HostTools;
  seccomp: Uint8Array | null;
  /** Host uid/gid to run as (root only), else the worker's own. */
  owner: { uid: number; gid: number } | null;
  cgroup: SandboxCgroup | null;
}

export interface RunningCommand {
  result: Promise<ExecResult>;
  /** Settles once the command is handed to the launcher (or refused). */
  sent: Promise<void>;
  kill(): void;
}

/** One bubblewrap launcher: a process in the sandbox's cgroup, waiting for one command. */
export interface BwrapLauncher {
  /** Settles once the launcher is in its cgroup, or was refused and killed. */
  readonly placed: Promise<unknown>;
  /** True once the launcher process is gone (killed, or it failed): it can run nothing. */
  readonly exited: boolean;
  /** Sends bubblewrap its options and the command (unless it was started with one). */
  run(args: readonly string[], request: ExecRequest): RunningCommand;
  /** Kills an unused launcher and waits until it is gone. */
  discard(): Promise<void>;
}

/**
 * Starts a launcher (bwrap-launch.ts): with `command` null one that waits, in its cgroup, for
 * whatever command comes next, so that an exec pays neither the process start nor the cgroup
 * move; else one for that command. Nothing of a command runs before the launcher is in the
 * cgroup: bubblewrap reads its options from a pipe to the end before it makes a namespace or
 * a process, and the driver writes them (then, to a waiting launcher, the command) only once
 * the move is done. A launcher that cannot be placed is killed, and its command's result is
 * SANDBOX_UNAVAILABLE. (Moving a process into a cgroup waits for an RCU grace period, 10–45 ms
 * here under load, unless another move just happened: a waiting launcher takes it off the
 * exec's path, and off the event loop.)
 */
export function startLauncher(
  setup: LauncherSetup,
  command: readonly string[] | null,
): BwrapLauncher {
  const [file = '', ...launchArgs] = launchArgv(setup.tools, command);
  const child = spawn(file, launchArgs, {
    env: {},
    cwd: '/',
    // stdin is a pipe whether or not the command gets input: the launcher starts before that
    // is known. Without input it is closed at once, so the command reads end-of-file.
    stdio: [
      'pipe',
      'pipe',
      'pipe',
      setup.seccomp === null ? 'ignore' : 'pipe',
      'pipe',
      // Only a waiting launcher reads a command; any other would pass this pipe into the sandbox.
      ...(command === null ? ['pipe' as const] : []),
    ],
    ...(setup.owner ?? {}),
  });
  // Killing bubblewrap is enough: the kernel then SIGKILLs the sandbox's init
  // (--die-with-parent), and the death of a pid namespace's init kills everything in it. The
  // cgroup is not used here: it is shared by the sandbox's concurrent commands. Once node has
  // seen the exit, the pid may be reaped and reused: never signal it then.
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('exit', () => (exited = true));
  const kill = (): void => {
    if (!exited && child.pid !== undefined) killPids([child.pid]);
  };
  const pipes = [seccompFd, argsFd, commandFd].map(
    (fd) => (child.stdio[fd] ?? null) as Writable | null,
  );
  // A launcher failing early closes its ends; its stderr says why, in the result.
  for (const pipe of pipes) pipe?.on('error', () => undefined);
  // A launcher started for its command is moved at once (its exec waits for it anyway, and a
  // move right after another passes without a grace period); a waiting one in the background.
  const placed = placeInCgroup(child.pid, setup.cgroup, command === null).then((refused) => {
    if (refused !== null) {
      // SIGKILL first: an empty options pipe would let bubblewrap run the command unconfined.
      kill();
      for (const pipe of pipes) pipe?.destroy();
    }
    return refused;
  });
  return {
    placed,
    get exited() {
      return exited;
    },
    run: (args, request) => {
      if (exited) {
        const reason = 'the launcher exited before it got its command; retry the exec';
        const result = Promise.reject(new LongrunError('SANDBOX_UNAVAILABLE', reason));
        return { result, sent: Promise.resolve(), kill };
      }
      const result = collectResult(child, request, { kill, afterExit: () => undefined });
      const [seccompPipe, argsPipe, commandPipe] = pipes;
      let handedOver = (): void => undefined;
      const sent = new Promise<void>((resolve) => (handedOver = resolve));
      const settled = placed.then((refused) => {
        if (refused !== null) {
          handedOver();
          return result.then(() => Promise.reject(refused));
        }
        const options = Buffer.from(args.map((arg) => `${arg}\0`).join(''));
        const fields = [...request.argv, commandEnd];
        // The command goes last, once bubblewrap's options and filter are wholly in their pipes.
        endAll(
          [
            [seccompPipe, setup.seccomp],
            [argsPipe, options],
          ],
          () => {
            if (commandPipe === null || commandPipe === undefined) return handedOver();
            commandPipe.end(Buffer.from(fields.map((field) => `${field}\0`).join('')), handedOver);
          },
        );
        return result;
      });
      return { result: settled, sent, kill };
    },
    discard: async () => {
      kill();
      await gone;
    },
  };
}

/** Ends each pipe with its data; `then` runs once all of it was written. */
function endAll(
  writes: [Writable | null | undefined, Uint8Array | null][],
  then: () => void,
): void {
  let left = writes.length;
  const done = (): void => {
    left -= 1;
    if (left === 0) then();
  };
  for (const [pipe, data] of writes) {
    if (pipe === null || pipe === undefined) done();
    else pipe.end(data ?? undefined, done);
  }
}

/** Null once the launcher is in the cgroup (or there is none); else why it is not. */
async function placeInCgroup(
  pid: number | undefined,
  cgroup: SandboxCgroup | null,
  inBackground: boolean,
): Promise<LongrunError | null> {
  if (pid === undefined || cgroup === null) return null; // not started: the result says why
  try {
    if (inBackground) await cgroup.joinInBackground(pid);
    else cgroup.join(pid);
    return null;
  } catch (error) {
    return new LongrunError(
      'SANDBOX_UNAVAILABLE',
      `cannot move the command into cgroup ${cgroup.name} (${(error as Error).message}); the sandbox is unusable: close it and open another`,
      { cause: error },
    );
  }
}
