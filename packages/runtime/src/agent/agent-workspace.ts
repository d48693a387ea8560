import { readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import {
  LongrunError,
  canonicalJson,
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
  type WorkspaceEdit,
  type WorkspaceFiles,
  type WorkspaceState,
} from '@longrun/core';
import type { Manifest, StatCache } from '@longrun/workspace';
import { defaultSandboxDriver } from './default-sandbox.ts';
import { SecretMask } from '../secrets/secret-mask.ts';

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

/**
 * How small a call's changes must be to be carried in its result as edits (WorkspaceEdit) rather
 * than stored as a manifest: the bytes and the edits one call carries, and the bytes, the edits
 * and the calls with edits since the last stored snapshot. Past them the next snapshot is stored,
 * and its manifest becomes the base of the edits after it; so a resume applies at most
 * `maxPendingEdits` edits, and a checkpoint (which holds the edits since the last stored
 * snapshot) grows by at most `maxPendingEditBytes` of them.
 */
export const workspaceEditLimits = {
  maxCallBytes: 8 * 1024,
  maxCallEdits: 32,
  maxPendingEditBytes: 32 * 1024,
  maxPendingEdits: 256,
  maxEditCalls: 64,
};

/** The files as the log last recorded them, on this worker. */
interface Recorded {
  /** The last stored snapshot: its manifest, read or written here (a delta's base). */
  stored: { manifestHash: string; manifest: Manifest };
  /** `stored` with the edits since applied: what the files are. */
  manifest: Manifest;
  /** Names the edits since `stored` (editsKey), to tell whether a state is this one. */
  editsKey: string;
  edits: number;
  editBytes: number;
  editCalls: number;
}

interface TrackedDir {
  /** Made on first use (see loadWorkspaceLib). */
  cache: StatCache | null;
  /** The state the files were equal to when last snapshotted or restored here. */
  recorded: Recorded | null;
  /** A tool may have changed the files since (it started and no snapshot followed). */
  dirty: boolean;
  /** Paths the last snapshot left out, so that a record names each one once. */
  skipped: Set<string>;
}

/** Directories no session runs in that a tracker keeps what it knows of, by default. */
export const defaultIdleWorkspaceDirs = 32;

/**
 * What one worker knows of the workspace directories it holds: a stat cache each (so a snapshot
 * reads only files that changed) and the snapshot each directory is known to equal. A directory
 * is held while a session runs in it (AgentWorkspace); of the others, only the `maxIdleDirs`
 * released last are kept, so a worker that runs sessions for days does not keep a stat cache and
 * a manifest for every one it ever ran. Forgetting a directory is always safe: its next session
 * here restores it from the log's snapshot as a new worker would.
 */
export class WorkspaceTracker {
  readonly #dirs = new Map<string, TrackedDir>();
  readonly #holds = new Map<string, number>();
  readonly #maxIdleDirs: number;

  constructor(options: { maxIdleDirs?: number } = {}) {
    const max = options.maxIdleDirs ?? defaultIdleWorkspaceDirs;
    if (!Number.isSafeInteger(max) || max < 0)
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `idleWorkspaceDirs must be a whole number of directories, 0 or more; got ${String(max)}`,
      );
    this.#maxIdleDirs = max;
  }

  entry(dir: string): TrackedDir {
    let entry = this.#dirs.get(dir);
    if (entry === undefined) {
      entry = { cache: null, recorded: null, dirty: false, skipped: new Set() };
      this.#dirs.set(dir, entry);
    }
    return entry;
  }

  /** A session runs in `dir`: what is known of it is kept until released. */
  hold(dir: string): void {
    this.#holds.set(dir, (this.#holds.get(dir) ?? 0) + 1);
  }

  /** A session stopped running in `dir`; the idle directories released longest ago are forgotten. */
  release(dir: string): void {
    const holds = (this.#holds.get(dir) ?? 0) - 1;
    if (holds > 0) {
      this.#holds.set(dir, holds);
      return;
    }
    this.#holds.delete(dir);
    const entry = this.#dirs.get(dir);
    if (entry !== undefined) {
      // Last released, last forgotten: a Map iterates in insertion order.
      this.#dirs.delete(dir);
      this.#dirs.set(dir, entry);
    }
    let idle = [...this.#dirs.keys()].filter((d) => !this.#holds.has(d)).length;
    for (const d of this.#dirs.keys()) {
      if (idle <= this.#maxIdleDirs) break;
      if (this.#holds.has(d)) continue;
      this.#dirs.delete(d);
      idle -= 1;
    }
  }

  /** Forgets `dir` (its directory is about to go), held or not. */
  forget(dir: string): void {
    this.#dirs.delete(dir);
  }

  /** Whether it keeps anything of `dir` (entry() makes an empty record of it). */
  knows(dir: string): boolean {
    return this.#dirs.has(dir);
  }

  /** Directories it knows something of (held or idle). */
  get size(): number {
    return this.#dirs.size;
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

  #released = false;

  /** Holds `options.dir` in the tracker until close(). */
  constructor(options: AgentWorkspaceOptions) {
    this.dir = options.dir;
    this.#o = options;
    this.files = filesThrough(() => this.#currentFiles());
    options.tracker.hold(options.dir);
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

  /** Makes the directory equal to `state` unless this worker knows it already is. */
  async restore(state: WorkspaceState): Promise<void> {
    const entry = this.#o.tracker.entry(this.dir);
    const edits = state.edits ?? [];
    const key = editsKey(edits);
    const known = entry.recorded;
    if (!entry.dirty && known?.stored.manifestHash === state.manifestHash && known.editsKey === key)
      return;
    const lib = await loadWorkspaceLib();
    entry.cache ??= new lib.StatCache();
    const { stored, manifest } = await lib.loadWorkspaceState(this.#o.blobs, state);
    await lib.restoreWorkspace({
      dir: this.dir,
      blobs: this.#o.blobs,
      manifestHash: state.manifestHash,
      manifest,
      cache: entry.cache,
    });
    entry.recorded = {
      stored: { manifestHash: state.manifestHash, manifest: stored },
      manifest,
      editsKey: key,
      edits: edits.length,
      editBytes: editBytesOf(edits),
      // The calls are not told apart in the state: each edit counts as one.
      editCalls: edits.length,
    };
    entry.dirty = false;
  }

  /**
   * The log names no workspace state: one this worker recorded (a snapshot whose event did not
   * commit) is not a base edits may be recorded against, so the next snapshot is stored whole.
   */
  forgetRecorded(): void {
    this.#o.tracker.entry(this.dir).recorded = null;
  }

  /** A tool is about to run: until the next snapshot, the files may differ from the last one. */
  markChanging(): void {
    this.#o.tracker.entry(this.dir).dirty = true;
  }

  /**
   * Snapshots the files: returns what to record, or null when nothing changed and nothing new was
   * left out (a file left out — a FIFO, a file longer than the cap — is always said, once, by the
   * record of the step that made it). With `edits` allowed (the caller records them in the call's
   * `tool.completed`), small changes come back as edits and nothing is stored; otherwise, and for
   * larger changes, the manifest is stored and a `workspace.snapshotted` event comes back. Edits
   * that would carry one of `secrets` (values the log must never hold: the session's secrets, in
   * any of their common forms) are stored as a manifest instead.
   */
  async snapshot(
    step: number,
    options: { edits: boolean; secrets?: SecretMask },
  ): Promise<WorkspaceRecord | null> {
    const entry = this.#o.tracker.entry(this.dir);
    if (entry.recorded === null && (await isEmptyDir(this.dir))) {
      // Nothing to record, and no reason to load the snapshot code (a worker resuming a session
      // whose agent keeps no files would otherwise load it at every start).
      entry.dirty = false;
      return null;
    }
    const lib = await loadWorkspaceLib();
    entry.cache ??= new lib.StatCache();
    const maxFileBytes =
      this.#o.sandbox?.limits?.workspaceBytes ?? defaultSandboxLimits.workspaceBytes;
    const recorded = entry.recorded;
    const limits = workspaceEditLimits;
    if (options.edits && recorded !== null && recorded.editCalls < limits.maxEditCalls) {
      const found = await lib.findWorkspaceEdits({
        dir: this.dir,
        current: recorded.manifest,
        cache: entry.cache,
        skipped: entry.skipped,
        maxBytes: Math.min(limits.maxCallBytes, limits.maxPendingEditBytes - recorded.editBytes),
        maxEdits: Math.min(limits.maxCallEdits, limits.maxPendingEdits - recorded.edits),
        maxFileBytes,
      });
      if (found !== null && !carriesSecret(found.edits, options.secrets ?? SecretMask.none)) {
        entry.dirty = false;
        if (found.edits.length === 0) return null;
        entry.recorded = {
          ...recorded,
          manifest: found.manifest,
          editsKey: editsKey(found.edits, recorded.editsKey),
          edits: recorded.edits + found.edits.length,
          editBytes: recorded.editBytes + editBytesOf(found.edits),
          editCalls: recorded.editCalls + 1,
        };
        return { edits: found.edits };
      }
    }
    const result = await lib.snapshotWorkspace({
      dir: this.dir,
      blobs: this.#o.blobs,
      cache: entry.cache,
      maxFileBytes,
      ...(recorded === null ? {} : { previous: recorded.stored }),
    });
    // Counted against the files as last recorded, edits included.
    const changed =
      recorded === null || recorded.manifest === recorded.stored.manifest
        ? result.changed
        : lib.countChanges(lib.diffManifests(recorded.manifest, result.manifest));
    // An empty workspace needs no record: a session with no snapshot restores to nothing.
    const emptyFromStart = recorded === null && result.manifest.entries.length === 0;
    const newlySkipped = result.skipped.filter((s) => !entry.skipped.has(s.path));
    entry.dirty = false;
    entry.skipped = new Set(result.skipped.map((s) => s.path));
    const unchanged = recorded !== null && changed === 0;
    if ((unchanged || emptyFromStart) && newlySkipped.length === 0) return null;
    entry.recorded = {
      stored: { manifestHash: result.manifestHash, manifest: result.manifest },
      manifest: result.manifest,
      editsKey: editsKey([]),
      edits: 0,
      editBytes: 0,
      editCalls: 0,
    };
    return {
      event: event('workspace.snapshotted', {
        step,
        manifestHash: result.manifestHash,
        files: result.files,
        bytes: result.bytes,
        changed,
        ...(newlySkipped.length === 0 ? {} : { skipped: newlySkipped.slice(0, 20) }),
      }),
    };
  }

  /** The session's sandbox, opened on first use and kept for the rest of this run. */
  sandbox(): Promise<Sandbox> {
    this.#sandbox ??= this.#open().then((sandbox) => (this.#openSandbox = sandbox));
    return this.#sandbox;
  }

  async close(): Promise<void> {
    if (!this.#released) {
      this.#released = true;
      this.#o.tracker.release(this.dir);
    }
    const opened = this.#sandbox;
    this.#sandbox = null;
    this.#openSandbox = null;
    if (opened !== null) await (await opened.catch(() => null))?.close();
  }

  /**
   * Removes the directory (after close()), and what the tracker knew of it: the next run of the
   * session restores it from the log's last snapshot, as a new worker would.
   */
  async remove(): Promise<void> {
    this.#o.tracker.forget(this.dir);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
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

/** What a snapshot gives to record: edits for the call's result, or an event of its own. */
export type WorkspaceRecord = { edits: WorkspaceEdit[] } | { event: NewEvent };

/**
 * Names a list of edits, continuing the name of the edits before them (`after`): equal names,
 * equal edits since the same stored snapshot. Canonical JSON, as a store may reorder keys.
 */
function editsKey(edits: readonly WorkspaceEdit[], after = ''): string {
  let key = after;
  for (const edit of edits)
    key = createHash('sha256').update(key).update(canonicalJson(edit)).digest('hex');
  return key;
}

/** Whether any edit holds one of `values`, in its path or its bytes. */
function carriesSecret(edits: readonly WorkspaceEdit[], secrets: SecretMask): boolean {
  if (secrets.empty) return false;
  return edits.some((edit) => {
    // Binary content as UTF-8: the decoder resynchronizes after a bad byte, so a value's own
    // bytes decode to the value wherever they are.
    const content =
      'text' in edit
        ? edit.text
        : 'base64' in edit
          ? Buffer.from(edit.base64, 'base64').toString('utf8')
          : '';
    return secrets.finds(content) || secrets.finds(edit.path);
  });
}

function editBytesOf(edits: readonly WorkspaceEdit[]): number {
  let bytes = 0;
  for (const edit of edits) {
    if ('text' in edit) bytes += Buffer.byteLength(edit.text);
    else if ('base64' in edit) bytes += Math.floor((edit.base64.length * 3) / 4);
  }
  return bytes;
}

/** True for a directory with no entries; false for one with any, or one that is missing. */
async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return false;
  }
}
