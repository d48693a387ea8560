import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  LongrunError,
  protectionNames,
  type ExecRequest,
  type ExecResult,
  type ProtectionName,
  type ProtectionReport,
  type Sandbox,
  type SandboxSpec,
  type WorkspaceFiles,
} from '@longrun/core';
import { workspacePathParts, type Owner } from '@longrun/workspace';
import { chownTree } from './chown-tree.ts';
import { collectResult } from './collect-result.ts';
import type { PreparableDriver } from './prepared-sandbox.ts';
import { refuseIfStrict } from './strict-check.ts';
import { validateRequest, validateSpec } from './validate-spec.ts';
import { newSandboxUid } from './sandbox-names.ts';
import { sandboxFiles } from './sandbox-files.ts';

const isRoot = process.getuid?.() === 0;

const honestReasons: Partial<Record<ProtectionName, [boolean, string]>> = {
  'empty-env': isRoot
    ? [
        true,
        "commands see only the env of the spec, and run as a host uid of their own, so they cannot read the worker's environment in /proc",
      ]
    : [
        false,
        "commands get only the env of the spec, but run as the worker's uid and can read its environment in /proc/<pid>/environ (as root, each sandbox gets a uid of its own)",
      ],
  'tree-kill': [false, 'kills the process group only; a command that calls setsid escapes it'],
  'socket-families': [
    false,
    'no seccomp filter: commands open every socket family the worker can, AF_VSOCK and AF_PACKET included',
  ],
  'read-only-root': [
    false,
    "commands see the host's file system: they write wherever the worker user can",
  ],
};

/**
 * Development driver: plain child processes in the workspace directory, in the worker's
 * namespaces. It isolates nothing, and says so. As root it still runs each sandbox's commands
 * as an unprivileged host uid of their own (the workspace is given to it), so that a command
 * cannot read the worker's environment, memory or root's files; otherwise as the worker's user.
 */
export function processDriver(): PreparableDriver {
  const report: ProtectionReport = {
    driver: 'process',
    protections: protectionNames.map((name) => {
      const [enforced, reason] = honestReasons[name] ?? [
        false,
        'the process driver isolates nothing: commands run as the worker user, with its files, network and limits',
      ];
      return { name, enforced, reason };
    }),
  };
  const driver: PreparableDriver = {
    kind: 'process',
    protections: async () => report,
    prepare: async () => ({
      open: async (spec) => {
        validateSpec(spec);
        refuseIfStrict(spec, report);
        if (spec.writableDirs !== undefined && !spec.writableDirs.includes('.'))
          throw new LongrunError(
            'SANDBOX_UNAVAILABLE',
            `the process driver cannot keep commands to the writable directories the policy allows (${spec.writableDirs.join(', ') || 'none'}): use the bubblewrap driver, or allow writing the whole workspace (paths.write: ['**'])`,
          );
        const uid = isRoot ? newSandboxUid() : null;
        const owner = uid === null ? undefined : { uid, gid: uid };
        if (owner !== undefined) {
          chownTree(spec.workspaceDir, owner.uid, owner.gid);
          chmodSync(spec.workspaceDir, 0o700);
        }
        return new ProcessSandbox(spec, owner);
      },
      discard: async () => undefined,
    }),
    open: async (spec) => (await driver.prepare()).open(spec),
  };
  return driver;
}

class ProcessSandbox implements Sandbox {
  readonly id = `process-${randomUUID()}`;
  readonly files: WorkspaceFiles;
  private readonly spec: SandboxSpec;
  private readonly owner: Owner | undefined;
  private readonly running = new Set<ChildProcess>();
  private closed = false;

  constructor(spec: SandboxSpec, owner: Owner | undefined) {
    this.spec = spec;
    this.owner = owner;
    this.files = sandboxFiles(spec.workspaceDir, owner, { isOpen: () => !this.closed });
  }

  async exec(request: ExecRequest): Promise<ExecResult> {
    validateRequest(request);
    if (this.closed) throw new LongrunError('INVALID_STATE', 'the sandbox is closed');
    const [command = '', ...args] = request.argv;
    const cwd = join(this.spec.workspaceDir, ...workspacePathParts(request.cwd ?? '.'));
    const child = spawn(command, args, {
      cwd,
      env: { ...this.spec.env, ...request.env },
      ...(this.owner === undefined ? {} : { uid: this.owner.uid, gid: this.owner.gid }),
      // Its own process group, so that a timeout kills what it started too.
      detached: true,
      stdio: [request.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    this.running.add(child);
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is empty already.
      }
    };
    try {
      return await collectResult(child, request, { kill: killGroup, afterExit: killGroup });
    } finally {
      this.running.delete(child);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const exits = [...this.running].map(
      (child) => new Promise((resolve) => child.once('close', resolve)),
    );
    for (const child of this.running) {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    await Promise.all(exits);
  }
}
