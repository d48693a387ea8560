import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { LongrunError } from '@longrun/core';
import { commandArgs, rootArgs } from './bwrap-args.ts';
import { startLauncher } from './bwrap-exec.ts';
import { commandEnd, launchArgv } from './bwrap-launch.ts';
import { probeBwrapHost } from './bwrap-probe.ts';
import type { SandboxCgroup } from './cgroup.ts';
import { newWorkspace, removeWorkspaces, runsHere } from './bwrap-test-support.ts';

afterAll(removeWorkspaces);

const host = probeBwrapHost('/usr/bin/bwrap', { system: null, reason: 'not needed here' });

/** A cgroup that refuses every process, as a removed or misconfigured one would. */
const refusingCgroup: SandboxCgroup = {
  name: 'refusing',
  setLimits: () => undefined,
  join: () => {
    throw new Error('ENOENT: the cgroup is gone');
  },
  joinInBackground: () => Promise.reject(new Error('ENOENT: the cgroup is gone')),
  pids: () => [],
  destroy: async () => undefined,
};

/** bubblewrap's options for a small sandbox over `workspace`. */
const optionsFor = (workspace: string): string[] =>
  commandArgs({
    rootArgs: rootArgs('none'),
    features: host.features,
    workspaceSource: workspace,
    network: 'none',
    tmpBytes: 1 << 20,
    cwdComponents: [],
    env: { PATH: '/usr/bin:/bin' },
  });

describe('bwrap exec', () => {
  it('starts nothing of the command when it cannot be placed in the cgroup', async () => {
    if (!runsHere(host.tools !== null, `a usable bubblewrap (${host.unusableReason})`)) return;
    const tools = host.tools as NonNullable<typeof host.tools>;
    const workspace = newWorkspace();
    const command = ['/bin/sh', '-c', 'touch /workspace/ran'];
    // Both launchers: one waiting for its command (as the driver starts them), one started with it.
    const run = (cgroup: SandboxCgroup | null, waits: boolean) =>
      startLauncher(
        // As root the launcher runs as root here: the workspace is root's.
        { tools, seccomp: host.seccomp, owner: null, cgroup },
        waits ? null : command,
      ).run(optionsFor(workspace), { argv: command, timeoutMs: 10_000, maxOutputBytes: 10_000 })
        .result;

    for (const waits of [true, false]) {
      const refused = await run(refusingCgroup, waits).then(
        () => null,
        (error: unknown) => error as LongrunError,
      );
      expect(refused?.code).toBe('SANDBOX_UNAVAILABLE');
      expect(refused?.message).toContain('cannot move the command into cgroup refusing');
      expect(existsSync(join(workspace, 'ran'))).toBe(false);
    }

    // The control: the same command, with nothing to place it in, runs (from either launcher).
    for (const waits of [true, false]) {
      const ran = await run(null, waits);
      expect(ran).toMatchObject({ exitCode: 0, stderr: '' });
      expect(existsSync(join(workspace, 'ran'))).toBe(true);
      rmSync(join(workspace, 'ran'));
    }
  });

  it('a waiting launcher runs nothing when its command is cut short or never comes', async () => {
    if (!runsHere(host.tools?.bash != null, `bash ≥ 4.4 and a usable bubblewrap`)) return;
    const tools = host.tools as NonNullable<typeof host.tools>;
    const workspace = newWorkspace();
    const options = optionsFor(workspace);
    const ran = join(workspace, 'ran');
    // What the driver sends a launcher, with the command fields as given.
    const send = async (fields: string[]) => {
      const [file = '', ...args] = launchArgv(tools, null);
      const child = spawn(file, args, {
        env: {},
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      });
      // A launcher that refuses exits with bubblewrap's pipes unread: EPIPE is expected there.
      const pipe = (fd: number) => (child.stdio[fd] as Writable).on('error', () => undefined);
      pipe(3).end(host.seccomp ?? undefined);
      pipe(4).end(Buffer.from(options.map((arg) => `${arg}\0`).join('')));
      pipe(5).end(Buffer.from(fields.map((field) => `${field}\0`).join('')));
      return new Promise<number | null>((resolve) => child.once('close', resolve));
    };
    const command = ['/bin/sh', '-c', 'touch /workspace/ran'];
    expect(await send(command)).toBe(126); // no end marker
    expect(await send([])).toBe(126); // the worker died before writing anything
    expect(existsSync(ran)).toBe(false);
    // The control: the whole command, end marker included, runs.
    expect(await send([...command, commandEnd])).toBe(0);
    expect(existsSync(ran)).toBe(true);
  });
});
