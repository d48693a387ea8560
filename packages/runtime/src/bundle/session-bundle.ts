import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  fold,
  LongrunError,
  type BlobStore,
  type JsonValue,
  type SessionId,
  type SessionStore,
  type StoredEvent,
  type WorkspaceState,
  type WorkspaceStateRef,
  workspaceStatesOf,
} from '@longrun/core';
import type { FileEntry } from '@longrun/workspace';
import { bundleEnv } from './bundle-env.ts';
import { Redactor, secretsFromEnv } from './redactor.ts';
import { TarGzWriter } from './tar-gz-writer.ts';
import { toolCallsCsv } from './tool-calls-csv.ts';
import { requestFingerprints } from '../replay/request-fingerprints.ts';

/** Loaded on first use, as in workspace-diff.ts. */
const workspaceLib = () => import('@longrun/workspace');

export const bundleFormatVersion = 1;

export interface SessionBundleOptions {
  /**
   * Values that must not appear in the bundle, beyond the ones found by name in the environment
   * (`secretsFromEnv`): they are masked wherever they occur, in every file.
   */
  secrets?: readonly string[];
  /** Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the workspace blobs are. Default: the session store's own blob table. */
  blobs?: BlobStore;
  /**
   * `trace.json`: the session's spans as OTLP JSON, from its events. Default: @longrun/telemetry's
   * `otlpTraceJson` (the spans an OTLP exporter sends, content capture as the environment says);
   * `false`: left out.
   */
  traceJson?: ((events: readonly StoredEvent[]) => JsonValue) | false;
  /** Written to env.txt. */
  agentVersion?: string;
  /** More progress files to include, by workspace path (the agent's handoff file, say). */
  progressFiles?: readonly string[];
}

/** Names of the files an agent keeps its progress in, at any depth of its workspace. */
const progressName = /(^|\/)(progress|notes|todo|plan|status)([._-][^/]*)?\.(md|txt|json)$/i;
const progressMaxBytes = 1024 * 1024;
const pageSize = 1_000;

/** Every event of a session, page by page. */
export async function readAllEvents(store: SessionStore, id: SessionId): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (;;) {
    const page = await store.readEvents(id, events.length, pageSize);
    events.push(...page);
    if (page.length < pageSize) return events;
  }
}

/**
 * A session's debug bundle (DESIGN §8), as a .tar.gz stream: `session.jsonl` (every event),
 * `last_state.json` (the folded state, the latest checkpoint, the session record), `trace.json`,
 * `tool_calls.csv`, `requests.jsonl` (a fingerprint of each model request, for replay), `tool-inputs/` (tool call
 * arguments kept in the blob store, for replay), `workspace/` (the last snapshot's files), `workspace.diff` (first snapshot →
 * last), `progress/` (the agent's progress files), `env.txt` and `bundle.json` (what is in it).
 * Every file passes through the redactor. Workspace files stream a blob at a time, so a large
 * workspace is never held in memory whole; the events are (the fold needs them all).
 * The session must exist (NOT_FOUND otherwise) before the stream is returned; a failure while
 * writing destroys the stream with the error.
 */
export async function sessionBundle(
  store: SessionStore,
  id: SessionId,
  options: SessionBundleOptions = {},
): Promise<Readable> {
  const record = await store.getSession(id);
  const events = await readAllEvents(store, id);
  const last = events.at(-1);
  const tar = await TarGzWriter.open(new Date(last?.atMs ?? 0));
  const redactor = new Redactor([
    ...secretsFromEnv(options.env ?? process.env),
    ...(options.secrets ?? []),
  ]);
  const context: BundleContext = {
    store,
    id,
    events,
    tar,
    redactor,
    blobs: options.blobs ?? store.blobs,
    options,
    index: [],
  };
  void (async () => {
    await addLog(context, record);
    await addToolInputs(context);
    await addWorkspace(context);
    await addText(context, 'env.txt', bundleEnv({ store, events, ...pick(options) }));
    await addText(context, 'bundle.json', bundleIndex(context));
    tar.finalize();
  })().catch((error: unknown) =>
    tar.fail(error instanceof Error ? error : new Error(String(error))),
  );
  return tar.output;
}

function pick(options: SessionBundleOptions): { agentVersion?: string } {
  return options.agentVersion === undefined ? {} : { agentVersion: options.agentVersion };
}

interface BundleContext {
  store: SessionStore;
  id: SessionId;
  events: StoredEvent[];
  tar: TarGzWriter;
  redactor: Redactor;
  blobs: BlobStore;
  options: SessionBundleOptions;
  /** What was written, in order: name and size. */
  index: { name: string; bytes: number }[];
  workspace?: JsonValue;
}

async function addText(context: BundleContext, name: string, text: string): Promise<void> {
  const bytes = context.redactor.text(text);
  context.index.push({ name, bytes: bytes.length });
  await context.tar.add(name, bytes);
}

async function addLog(
  context: BundleContext,
  record: Awaited<ReturnType<SessionStore['getSession']>>,
): Promise<void> {
  const { events, store, id, options } = context;
  // Masked event by event, so each line stays the JSON of one event: what is read back from
  // session.jsonl (a replay's recording) is what the request fingerprints below are taken of.
  const lines = events.map((e) =>
    context.redactor.maskInPlace(Buffer.from(`${JSON.stringify(e)}\n`)),
  );
  const masked = lines.map((l) => JSON.parse(l.toString('utf8')) as StoredEvent);
  await addText(context, 'session.jsonl', Buffer.concat(lines).toString('utf8'));
  const checkpoint = await store.latestCheckpoint(id);
  const state = {
    session: record,
    headSeq: events.at(-1)?.seq ?? 0,
    state: fold(events),
    checkpoint,
  };
  await addText(context, 'last_state.json', `${JSON.stringify(state, null, 2)}\n`);
  if (options.traceJson !== false) {
    // Loaded here: a process that never makes a bundle never loads the OpenTelemetry SDK.
    const trace = options.traceJson ?? (await import('@longrun/telemetry')).otlpTraceJson;
    await addText(context, 'trace.json', `${JSON.stringify(trace(events))}\n`);
  }
  await addText(context, 'tool_calls.csv', toolCallsCsv(events));
  const requests = requestFingerprints(masked).map((r) => `${JSON.stringify(r)}\n`);
  await addText(context, 'requests.jsonl', requests.join(''));
}

/**
 * The tool call arguments the log holds only a reference to (`inputRef`), as
 * `tool-inputs/<hash>.json`: a replay runs each call's tool input check on the whole arguments.
 * One the blob store has lost is left out (the replay reports that call).
 */
async function addToolInputs(context: BundleContext): Promise<void> {
  const hashes = new Set(
    context.events.flatMap((e) =>
      e.type === 'model.responded' ? e.data.toolCalls.flatMap((c) => c.inputRef?.hash ?? []) : [],
    ),
  );
  for (const hash of hashes) {
    const bytes = await context.blobs.get(hash);
    if (bytes !== null)
      await addText(context, toolInputEntry(hash), new TextDecoder().decode(bytes));
  }
}

/** The bundle entry of a call's arguments kept in the blob store under `hash`. */
export function toolInputEntry(hash: string): string {
  return `tool-inputs/${hash}.json`;
}

/** The last snapshot's files, its diff against the first, and the progress files among them. */
async function addWorkspace(context: BundleContext): Promise<void> {
  const states = workspaceStatesOf(context.events);
  const first = states[0];
  const last = states.at(-1);
  if (first === undefined || last === undefined) {
    context.workspace = null;
    return;
  }
  const { loadWorkspaceState } = await workspaceLib();
  const { manifest } = await loadWorkspaceState(context.blobs, last.state);
  const files = manifest.entries.filter((e): e is FileEntry => e.type === 'file');
  for (const file of files) {
    await context.tar.addStream(
      `workspace/${file.path}`,
      file.size,
      context.redactor.stream(fileChunks(context.blobs, file, last.ref.manifestHash)),
    );
  }
  await addDiff(context, first, last);
  const wanted = new Set(context.options.progressFiles ?? []);
  for (const e of context.events) {
    if (e.type === 'context.compacted' && e.data.handoff) wanted.add(e.data.handoff.file);
  }
  const progress = files.filter(
    (f) => (wanted.has(f.path) || progressName.test(f.path)) && f.size <= progressMaxBytes,
  );
  for (const file of progress) {
    await context.tar.addStream(
      `progress/${file.path}`,
      file.size,
      context.redactor.stream(fileChunks(context.blobs, file, last.ref.manifestHash)),
    );
  }
  context.workspace = {
    firstSnapshot: first.ref,
    lastSnapshot: last.ref,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    progressFiles: progress.map((f) => f.path),
    leftOut: manifest.entries
      .filter((e) => e.type === 'symlink')
      .map((e) => ({ path: e.path, reason: 'symlink' })),
  };
}

/** A file's bytes, blob by blob, each verified against its name. */
async function* fileChunks(
  blobs: BlobStore,
  file: FileEntry,
  manifestHash: string,
): AsyncGenerator<Uint8Array> {
  for (const { sha256: hash, inline } of file.chunks ?? [{ sha256: file.sha256 }]) {
    if (inline !== undefined) {
      yield inline;
      continue;
    }
    const bytes = await blobs.get(hash);
    if (bytes === null || createHash('sha256').update(bytes).digest('hex') !== hash) {
      throw new LongrunError(
        'WORKSPACE_CORRUPT',
        `workspace file ${JSON.stringify(file.path)} of snapshot ${manifestHash}: blob ${hash} is ${bytes === null ? 'missing' : 'corrupt'} in the ${blobs.kind} blob store`,
      );
    }
    yield bytes;
  }
}

type SnapshotAt = { ref: WorkspaceStateRef; state: WorkspaceState };

/**
 * `workspace.diff`: the first snapshot against the last, a unified diff per small text file
 * (workspace-diff.ts's rules), written to a temporary file one patch at a time and then streamed
 * in: the diff of a large workspace is never held in memory whole.
 */
async function addDiff(context: BundleContext, first: SnapshotAt, last: SnapshotAt): Promise<void> {
  const { diffManifests, loadWorkspaceState, unifiedDiff } = await workspaceLib();
  const before = (await loadWorkspaceState(context.blobs, first.state)).manifest;
  const after = (await loadWorkspaceState(context.blobs, last.state)).manifest;
  const diff = diffManifests(before, after);
  const changes = [
    ...diff.added.map((c) => ['+', c] as const),
    ...diff.removed.map((c) => ['-', c] as const),
    ...diff.changed.map((c) => ['~', c] as const),
  ].sort((x, y) => (x[1].path < y[1].path ? -1 : 1));
  const dir = mkdtempSync(join(tmpdir(), 'longrun-bundle-'));
  const path = join(dir, 'workspace.diff');
  try {
    const out = createWriteStream(path);
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    const name = ({ ref }: SnapshotAt) =>
      `seq ${ref.seq} (step ${ref.step}, manifest ${ref.manifestHash}${ref.edits === 0 ? '' : ` + ${ref.edits} edits`})`;
    await write(`# workspace of ${context.id}: ${name(first)} -> ${name(last)}\n`);
    for (const [mark, c] of changes) {
      await write(`# ${mark} ${c.path}  ${c.sizeBefore} -> ${c.sizeAfter} bytes\n`);
      const result = await unifiedDiff(c, {
        blobs: context.blobs,
        manifestHash: last.ref.manifestHash,
      });
      await write(result.patch ?? `# (no text diff: ${result.reason})\n`);
    }
    if (changes.length === 0) await write('# no changes\n');
    out.end();
    await once(out, 'close');
    const size = statSync(path).size;
    context.index.push({ name: 'workspace.diff', bytes: size });
    await context.tar.addStream(
      'workspace.diff',
      size,
      context.redactor.stream(createReadStream(path) as AsyncIterable<Buffer>),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bundleIndex(context: BundleContext): string {
  const index = {
    format: bundleFormatVersion,
    sessionId: context.id,
    headSeq: context.events.at(-1)?.seq ?? 0,
    files: context.index,
    workspace: context.workspace ?? null,
    trace: context.options.traceJson === false ? 'not included' : 'trace.json',
  };
  return `${JSON.stringify(index, null, 2)}\n`;
}
