import { readdir } from 'node:fs/promises';
import {
  LongrunError,
  evaluatePolicy,
  event,
  sandboxWorkspacePath,
  type BlobStore,
  type PolicyLayer,
  type NewEvent,
  type Sandbox,
  type SandboxDriver,
  type SandboxLimits,
  type SandboxNetwork,
  type ToolContext,
  type WorkspaceFiles,
} from '@longrun/core';
import type { Manifest, StatCache } from '@longrun/workspace';
import { defaultSandboxDriver } from './default-sandbox.ts';

// Loaded on first use: a worker that runs only programs, or agents that never touch a workspace
// or a command, does not pay for them at start-up (a restarted worker's takeover time).
let workspaceLib: Promise<typeof import('@longrun/workspace')> | undefined;
const loadWorkspaceLib = () => (workspaceLib ??= import('@longrun/workspace'));

/**
 * Copies a host directory (the agent author's own: a repository, fixtures) into a session's
 * workspace through its accessor; for `prepareWorkspace`. See @longrun/workspace.
 */
export async function copyIntoWorkspace(
  hostDir: string,
  files: WorkspaceFiles,
  into = '',
): Promise<{ files: number; bytes: number }> {
  return (await loadWorkspaceLib()).copyIntoWorkspace(hostDir, files, into);
}

/** Where an agent's commands run; the default is bubblewrap where it isolates (defaultSandboxDriver). */
export interface AgentSandboxConfig {
  driver: SandboxDriver;
  limits?: Partial<SandboxLimits>;
  /** Default `none`. */
  network?: SandboxNetwork;
  /** The only environment commands see. Default: PATH, HOME (the workspace) and LANG. */
  env?: Record<string, string>;
  /** Refuse to run when the driver cannot enforce every protection. */
  strict?: boolean;
}

const gib = 1024 ** 3;
export const defaultSandboxLimits: SandboxLimits = {
  memoryBytes: 2 * gib,
  pids: 512,
  cpuCores: 1,
  workspaceBytes: 4 * gib,
};

interface Snapshot {
  manifestHash: string;
  manifest: Manifest;
}

interface TrackedDir {
  /** Made on first use (see loadWorkspaceLib). */
  cache: StatCache | null;
  /** The snapshot the files were equal to when last snapshotted or restored here. */
  snapshot: Snapshot | null;
  /** A tool may have changed the files since (it started and no snapshot followed). */
  dirty: boolean;
  /** Paths the last snapshot left out, so that a record names each one once. */
  skipped: Set<string>;
}

/**
 * What one worker knows of the workspace directories it holds: a stat cache each (so a snapshot
 * reads only files that changed) and the snapshot each directory is known to equal.
 */
export class WorkspaceTracker {
  readonly #dirs = new Map<string, TrackedDir>();

  entry(dir: string): TrackedDir {
    let entry = this.#dirs.get(dir);
    if (entry === undefined) {
      entry = { cache: null, snapshot: null, dirty: false, skipped: new Set() };
      this.#dirs.set(dir, entry);
    }
    return entry;
  }
}

/**
 * What a session's policy lets its tools do with workspace paths: checked by the files accessor
 * itself, so a tool that declares no paths (`Tool.touches`) is held to them too.
 */
export interface PathGuard {
  /** Whether the policy lets the session read (or list) `path`. */
  readable(path: string): boolean;
  /** Throws PERMISSION_DENIED when the policy does not let the session `access` `path`. */
  check(access: 'read' | 'write', path: string): void;
}

/** The guard of `layers`' path rules; null when no layer is set (everything is allowed). */
export function pathGuard(layers: readonly PolicyLayer[]): PathGuard | null {
  if (layers.length === 0) return null;
  const decide = (access: 'read' | 'write', path: string) =>
    evaluatePolicy(layers, { kind: 'path', access, path });
  return {
    readable: (path) => decide('read', path).decision === 'allow',
    check: (access, path) => {
      const d = decide(access, path);
      if (d.decision !== 'allow')
        throw new LongrunError(
          'PERMISSION_DENIED',
          `the policy does not let this session ${access} ${path} (${d.layer}, ${d.rule}): ${d.reason}`,
        );
    },
  };
}

/** A WorkspaceFiles whose every call goes to the accessor `target` resolves to at that moment. */
/** `beforeChange` is told before each call that may change the files (write, mkdir, remove). */
/** `guard`: the policy's path rules, checked before each call; a listing shows only what it lets read. */
function filesThrough(
  target: () => Promise<WorkspaceFiles>,
  beforeChange: () => void = () => undefined,
  guard: PathGuard | null = null,
): WorkspaceFiles {
  const check = (access: 'read' | 'write', path: string) => guard?.check(access, path);
  return {
    stat: async (path) => {
      check('read', path);
      return (await target()).stat(path);
    },
    readFile: async (path, options) => {
      check('read', path);
      return (await target()).readFile(path, options);
    },
    writeFile: async (path, data, options) => {
      check('write', path);
      beforeChange();
      return (await target()).writeFile(path, data, options);
    },
    mkdir: async (path) => {
      check('write', path);
      beforeChange();
      return (await target()).mkdir(path);
    },
    remove: async (path) => {
      check('write', path);
      beforeChange();
      return (await target()).remove(path);
    },
    list: async (path, options) => {
      check('read', path);
      const listing = await (await target()).list(path, options);
      if (guard === null) return listing;
      // Names the policy does not let the session read are not shown either.
      return { ...listing, entries: listing.entries.filter((e) => guard.readable(e.path)) };
    },
  };
}

export interface AgentWorkspaceOptions {
  dir: string;
  blobs: BlobStore;
  tracker: WorkspaceTracker;
  sandbox?: AgentSandboxConfig;
  /** The workspace directories commands may write (the policy's); absent: all of it. */
  writableDirs?: readonly string[];
  /** The policy's path rules, which tools' file accessors enforce; absent: none. */
  paths?: PathGuard | null;
}

/**
 * A session's workspace on this worker (DESIGN §6): restored from the log's last snapshot when
 * this worker did not leave it so, snapshotted to the blob store after each tool call that may
 * have changed it (the `workspace.snapshotted` event commits with the call's result, so the log
 * never names a workspace the files do not match), and the sandbox its commands run in.
 */
export class AgentWorkspace {
  readonly dir: string;
  /** The accessor tools and prepareWorkspace get (see WorkspaceFiles). */
  readonly files: WorkspaceFiles;
  readonly #o: AgentWorkspaceOptions;
  #sandbox: Promise<Sandbox> | null = null;
  /** The sandbox once open: its accessor gives what the worker writes to the sandbox's user. */
  #openSandbox: Sandbox | null = null;
  #plainFiles: WorkspaceFiles | null = null;

  constructor(options: AgentWorkspaceOptions) {
    this.dir = options.dir;
    this.#o = options;
    this.files = filesThrough(() => this.#currentFiles());
  }

  /**
   * The files and sandbox as one tool call gets them: `beforeChange` is told before the call
   * first writes, makes or removes a file or opens the sandbox (whose commands may change any
   * file). A call that only reads leaves the workspace as its last snapshot says.
   */
  forCall(beforeChange: () => void): Pick<ToolContext, 'files' | 'sandbox'> {
    return {
      files: filesThrough(() => this.#currentFiles(), beforeChange, this.#o.paths ?? null),
      sandbox: () => {
        beforeChange();
        return this.sandbox();
      },
    };
  }

  async #currentFiles(): Promise<WorkspaceFiles> {
    if (this.#openSandbox !== null) return this.#openSandbox.files;
    this.#plainFiles ??= new (await loadWorkspaceLib()).ConfinedWorkspaceFiles(this.dir);
    return this.#plainFiles;
  }

  /** Makes the directory equal to `manifestHash` unless this worker knows it already is. */
  async restore(manifestHash: string): Promise<void> {
    const entry = this.#o.tracker.entry(this.dir);
    if (!entry.dirty && entry.snapshot?.manifestHash === manifestHash) return;
    const lib = await loadWorkspaceLib();
    entry.cache ??= new lib.StatCache();
    const restored = await lib.restoreWorkspace({
      dir: this.dir,
      blobs: this.#o.blobs,
      manifestHash,
      cache: entry.cache,
    });
    entry.snapshot = { manifestHash, manifest: restored.manifest };
    entry.dirty = false;
  }

  /** A tool is about to run: until the next snapshot, the files may differ from the last one. */
  markChanging(): void {
    this.#o.tracker.entry(this.dir).dirty = true;
  }

  /**
   * Snapshots the files; returns the event to record, or null when nothing changed and nothing
   * new was left out (a file left out — a FIFO, a file longer than the cap — is always said,
   * once, by the record of the step that made it).
   */
  async snapshot(step: number): Promise<NewEvent | null> {
    const entry = this.#o.tracker.entry(this.dir);
    if (entry.snapshot === null && (await isEmptyDir(this.dir))) {
      // Nothing to record, and no reason to load the snapshot code (a worker resuming a session
      // whose agent keeps no files would otherwise load it at every start).
      entry.dirty = false;
      return null;
    }
    const lib = await loadWorkspaceLib();
    entry.cache ??= new lib.StatCache();
    const result = await lib.snapshotWorkspace({
      dir: this.dir,
      blobs: this.#o.blobs,
      cache: entry.cache,
      maxFileBytes: this.#o.sandbox?.limits?.workspaceBytes ?? defaultSandboxLimits.workspaceBytes,
      ...(entry.snapshot === null ? {} : { previous: entry.snapshot }),
    });
    const unchanged = entry.snapshot?.manifestHash === result.manifestHash;
    // An empty workspace needs no record: a session with no snapshot restores to nothing.
    const emptyFromStart = entry.snapshot === null && result.manifest.entries.length === 0;
    const newlySkipped = result.skipped.filter((s) => !entry.skipped.has(s.path));
    entry.snapshot = { manifestHash: result.manifestHash, manifest: result.manifest };
    entry.dirty = false;
    entry.skipped = new Set(result.skipped.map((s) => s.path));
    if ((unchanged || emptyFromStart) && newlySkipped.length === 0) return null;
    return event('workspace.snapshotted', {
      step,
      manifestHash: result.manifestHash,
      files: result.files,
      bytes: result.bytes,
      changed: result.changed,
      ...(newlySkipped.length === 0 ? {} : { skipped: newlySkipped.slice(0, 20) }),
    });
  }

  /** The session's sandbox, opened on first use and kept for the rest of this run. */
  sandbox(): Promise<Sandbox> {
    this.#sandbox ??= this.#open().then((sandbox) => (this.#openSandbox = sandbox));
    return this.#sandbox;
  }

  async close(): Promise<void> {
    const opened = this.#sandbox;
    this.#sandbox = null;
    this.#openSandbox = null;
    if (opened !== null) await (await opened.catch(() => null))?.close();
  }

  async #open(): Promise<Sandbox> {
    const config = this.#o.sandbox;
    const driver = config?.driver ?? (await defaultSandboxDriver());
    // A plain process sees the host's programs where the worker found them; a sandbox its own root.
    const env =
      driver.kind === 'process'
        ? { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir, LANG: 'C.UTF-8' }
        : { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: sandboxWorkspacePath, LANG: 'C.UTF-8' };
    return driver.open({
      workspaceDir: this.dir,
      env: config?.env ?? env,
      limits: { ...defaultSandboxLimits, ...config?.limits },
      network: config?.network ?? 'none',
      ...(this.#o.writableDirs === undefined ? {} : { writableDirs: this.#o.writableDirs }),
      ...(config?.strict === undefined ? {} : { strict: config.strict }),
    });
  }
}

/** True for a directory with no entries; false for one with any, or one that is missing. */
async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return false;
  }
}
