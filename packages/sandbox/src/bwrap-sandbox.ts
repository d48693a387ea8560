import { rmdirSync } from 'node:fs';
import {
  LongrunError,
  type ExecRequest,
  type ExecResult,
  type Sandbox,
  type SandboxSpec,
  type WorkspaceFiles,
} from '@longrun/core';
import { workspacePathParts } from '@longrun/workspace';
import { commandArgs, type BwrapFeatures } from './bwrap-args.ts';
import {
  startLauncher,
  type BwrapLauncher,
  type LauncherSetup,
  type RunningCommand,
} from './bwrap-exec.ts';
import type { HostTools } from './bwrap-launch.ts';
import type { SandboxCgroup } from './cgroup.ts';
import { validateRequest } from './validate-spec.ts';
import { releaseCappedWorkspace } from './workspace-cap.ts';
import { sandboxFiles } from './sandbox-files.ts';

/** Everything a bound bubblewrap sandbox needs; made by the driver at `open`. */
export interface BwrapSandboxParts {
  name: string;
  spec: SandboxSpec;
  tools: HostTools;
  features: BwrapFeatures;
  rootArgs: readonly string[];
  seccomp: Uint8Array | null;
  owner: { uid: number; gid: number } | null;
  cgroup: SandboxCgroup | null;
  /** The directory holding the live workspace: the capped tmpfs, or the workspace itself. */
  liveDir: string;
  /** Set when the workspace is capped: the staging mount to release at close. */
  stagingDir: string | null;
  /**
   * Launchers already waiting in the cgroup for the first commands (see startLauncher), none
   * where there is no bash to wait with: each command then gets its own on its turn.
   */
  launchers: readonly BwrapLauncher[];
  /**
   * Settles once the cap is bound over the workspace directory (at once when there is no cap).
   * No call on the sandbox returns before it, so whatever a caller saw the sandbox do, host
   * readers of the workspace path see too; a failed bind fails every call.
   */
  bound: Promise<void>;
}

/**
 * How many launchers a pool's sandbox keeps waiting: two, so that a command run right after
 * another finds one ready while the first one's replacement starts (and waits for its cgroup
 * move). A sandbox opened on demand keeps none: each of its commands starts its own launcher.
 */
export const launchersWaiting = 2;

/**
 * One sandbox: every `exec` is a fresh bubblewrap (new namespaces, same cgroup, same workspace),
 * so nothing a command leaves running outlives it: when the command exits, its pid namespace and
 * everything in it die. In a pool's sandbox, launchers for the next commands wait in the cgroup
 * (see launchersWaiting), so an exec pays neither a process start nor a cgroup move.
 */
export class BwrapSandbox implements Sandbox {
  readonly id: string;
  private readonly parts: BwrapSandboxParts;
  readonly files: WorkspaceFiles;
  private readonly running = new Set<RunningCommand>();
  private closing: Promise<void> | null = null;
  /** Launchers waiting for a command, oldest first; empty where there is no bash. */
  private readonly waiting: BwrapLauncher[];
  /** How many launchers to keep waiting: as many as the sandbox was opened with. */
  private readonly kept: number;
  private readonly setup: LauncherSetup;

  constructor(parts: BwrapSandboxParts) {
    this.parts = parts;
    this.waiting = [...parts.launchers];
    this.kept = parts.launchers.length;
    this.setup = {
      tools: parts.tools,
      seccomp: parts.seccomp,
      owner: parts.owner,
      cgroup: parts.cgroup,
    };
    this.id = parts.name;
    this.files = sandboxFiles(parts.liveDir, parts.owner ?? undefined, {
      isOpen: () => this.closing === null,
      ready: parts.bound,
    });
  }

  async exec(request: ExecRequest): Promise<ExecResult> {
    validateRequest(request);
    if (this.closing !== null) throw new LongrunError('INVALID_STATE', 'the sandbox is closed');
    const p = this.parts;
    const writableDirs = await this.writableDirs();
    const args = commandArgs({
      rootArgs: p.rootArgs,
      features: p.features,
      workspaceSource: p.liveDir,
      network: p.spec.network,
      tmpBytes: p.spec.limits.workspaceBytes,
      cwdComponents: workspacePathParts(request.cwd ?? '.'),
      env: { ...p.spec.env, ...request.env },
      ...(writableDirs === undefined ? {} : { writableDirs }),
    });
    const command = this.takeLauncher(request.argv).run(args, request);
    this.running.add(command);
    // Replaced once the command is handed over: starting a process holds the event loop for a
    // fork, which must not delay this command (nor one run right after it: a second launcher
    // waits for that one).
    void command.sent.then(() => setImmediate(() => this.replace()));
    try {
      const [result] = await Promise.all([command.result, p.bound]);
      return result;
    } finally {
      this.running.delete(command);
    }
  }

  /**
   * The oldest waiting launcher that is still alive; else a fresh one (without bash, one started
   * with `argv`).
   */
  private takeLauncher(argv: readonly string[]): BwrapLauncher {
    for (let taken = this.waiting.shift(); taken !== undefined; taken = this.waiting.shift()) {
      if (!taken.exited) return taken;
    }
    return startLauncher(this.setup, argv);
  }

  /**
   * Starts one launcher for the one a command took (none without bash, none once closing):
   * a sandbox keeps as many waiting as it was opened with, launchersWaiting for a pool's.
   */
  private replace(): void {
    if (this.parts.tools.bash === null || this.closing !== null) return;
    if (this.waiting.length >= this.kept) return; // concurrent commands took fresh ones
    this.waiting.push(startLauncher(this.setup, null));
  }

  /**
   * The spec's writable directories, each made (through the confined accessor, so as the
   * sandbox's owner and never through a link) and checked to be a directory right before the
   * command's mounts are built. Only the worker writes the workspace's read-only part, and it
   * never makes a link, so what is checked here is what bubblewrap binds.
   */
  private async writableDirs(): Promise<string[] | undefined> {
    const dirs = this.parts.spec.writableDirs;
    if (dirs === undefined || dirs.includes('.')) return undefined;
    const checked: string[] = [];
    for (const dir of dirs) {
      const parts = workspacePathParts(dir);
      if (parts.length === 0) return undefined;
      const path = parts.join('/');
      await this.files.mkdir(path);
      const entry = await this.files.stat(path);
      if (entry?.type !== 'dir')
        throw new LongrunError(
          'FILE_TYPE_REFUSED',
          `${path} must be a directory to be mounted writable in the sandbox; it is a ${entry?.type ?? 'missing entry'}`,
        );
      checked.push(path);
    }
    return checked;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const results = [...this.running].map((command) => {
      command.kill();
      return command.result;
    });
    const unused = this.waiting.splice(0).map((launcher) => launcher.discard());
    await Promise.all([...results, ...unused]);
    await this.parts.cgroup?.destroy();
    const { stagingDir, spec } = this.parts;
    if (stagingDir !== null) {
      const bound = await this.parts.bound.then(
        () => true,
        () => false,
      );
      await releaseCappedWorkspace(stagingDir, spec.workspaceDir, { bound });
      rmdirSync(stagingDir);
    }
  }
}
