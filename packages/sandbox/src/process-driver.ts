import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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
} from '@longrun/core';
import { collectResult } from './collect-result.ts';
import type { PreparableDriver } from './prepared-sandbox.ts';
import { refuseIfStrict } from './strict-check.ts';
import { validateRequest, validateSpec } from './validate-spec.ts';
import { workspaceComponents, workspaceFiles } from './workspace-files.ts';

const honestReasons: Partial<Record<ProtectionName, [boolean, string]>> = {
  'empty-env': [true, 'commands see only the env of the spec; nothing else of the worker'],
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
 * Development driver: plain child processes in the workspace directory, as the worker's own
 * user, in the worker's namespaces. It isolates nothing, and says so.
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
        return new ProcessSandbox(spec);
      },
      discard: async () => undefined,
    }),
    open: async (spec) => (await driver.prepare()).open(spec),
  };
  return driver;
}

class ProcessSandbox implements Sandbox {
  readonly id = `process-${randomUUID()}`;
  private readonly spec: SandboxSpec;
  private readonly files: ReturnType<typeof workspaceFiles>;
  private readonly running = new Set<ChildProcess>();
  private closed = false;

  constructor(spec: SandboxSpec) {
    this.spec = spec;
    this.files = workspaceFiles(spec.workspaceDir);
  }

  async exec(request: ExecRequest): Promise<ExecResult> {
    validateRequest(request);
    if (this.closed) throw new LongrunError('INVALID_STATE', 'the sandbox is closed');
    const [command = '', ...args] = request.argv;
    const cwd = join(this.spec.workspaceDir, ...workspaceComponents(request.cwd ?? '.'));
    const child = spawn(command, args, {
      cwd,
      env: { ...this.spec.env, ...request.env },
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

  async readFile(path: string): Promise<Uint8Array> {
    return this.files.readFile(path);
  }

  async writeFile(path: string, bytes: Uint8Array | string): Promise<void> {
    this.files.writeFile(path, bytes);
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
