import type { WorkspaceFiles } from './workspace-files.ts';

/**
 * Where commands run. A driver opens sandboxes; a sandbox runs argv commands confined to one
 * workspace and reads and writes files inside it. Drivers say honestly what they enforce: the
 * plain process driver isolates nothing and reports so; the bubblewrap driver reports each
 * protection it could not put in place on this machine, with the reason.
 *
 * Only plain data crosses this port. Commands are argv arrays; a shell runs only when the caller
 * passes `['/bin/sh', '-c', command]` itself.
 */

/** Where the workspace is mounted inside an isolating sandbox. */
export const sandboxWorkspacePath = '/workspace';

export const protectionNames = [
  'user-namespace',
  'pid-namespace',
  'net-namespace',
  'ipc-namespace',
  'uts-namespace',
  'network-off',
  'seccomp',
  /** socket() and socketpair() limited to the families a namespace scopes (no AF_VSOCK…). */
  'socket-families',
  'memory-limit',
  'pids-limit',
  'cpu-limit',
  /** Nothing outside the workspace and the capped scratch directories takes writes. */
  'read-only-root',
  'workspace-size-cap',
  'empty-env',
  'no-inherited-fds',
  'tree-kill',
] as const;

export type ProtectionName = (typeof protectionNames)[number];

export interface Protection {
  name: ProtectionName;
  enforced: boolean;
  /** How it is enforced, or why it is not (always set when `enforced` is false). */
  reason: string;
}

export interface ProtectionReport {
  driver: string;
  /** One entry per name of `protectionNames`, in that order. */
  protections: Protection[];
}

export interface SandboxLimits {
  memoryBytes: number;
  /** Most processes and threads alive at once in the sandbox. */
  pids: number;
  /** CPU time per wall-clock time: 1 is one full core, 0.5 half of one. */
  cpuCores: number;
  /** Most bytes the workspace may hold (also caps its inode count). */
  workspaceBytes: number;
}

export type SandboxNetwork = 'none' | 'allowed';

export interface SandboxSpec {
  /** Host directory mounted read-write at `sandboxWorkspacePath`. It must exist. */
  workspaceDir: string;
  /** The only environment commands see (nothing of the worker's is inherited). */
  env: Record<string, string>;
  limits: SandboxLimits;
  network: SandboxNetwork;
  /**
   * Directories of the workspace (relative to it) that commands may write; the rest of the
   * workspace is mounted read-only. Absent: all of it is writable. A policy's write paths give it
   * (`writableDirectories`). A driver that cannot confine writes refuses such a spec.
   */
  writableDirs?: readonly string[];
  /** Refuse to open (SANDBOX_UNAVAILABLE) unless every protection of the report is enforced. */
  strict?: boolean;
}

export interface ExecRequest {
  argv: readonly string[];
  /** Working directory relative to the workspace (or absolute under `sandboxWorkspacePath`). */
  cwd?: string;
  /** Added to (and overriding) the sandbox's env for this command only. */
  env?: Record<string, string>;
  timeoutMs: number;
  /** Most bytes kept of stdout and of stderr each; the rest is dropped and `truncated` set. */
  maxOutputBytes: number;
  signal?: AbortSignal;
  stdin?: string | Uint8Array;
}

/** A finished command. A non-zero exit, a timeout or a cancel is a result, not an exception. */
export interface ExecResult {
  /** Null when the command was killed by a signal. */
  exitCode: number | null;
  /** The signal that ended the command (e.g. SIGKILL after a timeout), else null. */
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  /** Set when `signal` of the request aborted the command. */
  cancelled: boolean;
  durationMs: number;
}

export interface Sandbox {
  readonly id: string;
  exec(request: ExecRequest): Promise<ExecResult>;
  /**
   * The live workspace's files, through the one accessor (WorkspaceFiles: no link followed, only
   * regular files and directories opened, writes by rename), owned by the sandbox's user so its
   * commands can change what the worker writes. INVALID_STATE once the sandbox is closed.
   */
  readonly files: WorkspaceFiles;
  /** Kills every process still running, frees limits and mounts. Idempotent. */
  close(): Promise<void>;
}

export interface SandboxDriver {
  readonly kind: string;
  protections(): Promise<ProtectionReport>;
  open(spec: SandboxSpec): Promise<Sandbox>;
}
