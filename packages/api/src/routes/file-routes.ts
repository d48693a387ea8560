import { createHash } from 'node:crypto';
import {
  LongrunError,
  canonicalJson,
  editCount,
  type BlobStore,
  type JsonValue,
  type WorkspaceState,
} from '@longrun/core';
import {
  chunksOfFile,
  loadWorkspaceState,
  type ChunkRef,
  type FileEntry,
} from '@longrun/workspace';
import { json, type ApiContext } from '../api-context.ts';
import {
  FileContentQuery,
  FileList,
  SessionParams,
  WorkspaceDiff,
  WorkspaceDiffQuery,
} from '../schemas.ts';
import { Redactor, sessionWorkspaceDiff } from '@longrun/runtime';
import { sessionOf } from '../tenant-scope.ts';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Each blob is checked against its name before it is served: a corrupt store is reported. */
async function verifiedBlob(blobs: BlobStore, hash: string, what: string): Promise<Uint8Array> {
  const bytes = await blobs.get(hash);
  const problem =
    bytes === null
      ? 'is missing from the blob store'
      : sha256(bytes) !== hash
        ? 'does not match its hash'
        : null;
  if (problem !== null || bytes === null) {
    throw new LongrunError(
      'WORKSPACE_CORRUPT',
      `${what} (blob ${hash}) ${problem ?? ''}; restore an earlier snapshot of the session or repair the blob store from a backup`,
    );
  }
  return bytes;
}

/**
 * The regular files of a workspace state (its stored manifest and the edits since), read (and
 * verified) the way a workspace restore reads them.
 */
async function stateFiles(blobs: BlobStore, state: WorkspaceState): Promise<FileEntry[]> {
  const edits = state.edits ?? [];
  // A state with edits costs a read of each edited file to hash it: the last few are kept.
  const key =
    edits.length === 0
      ? null
      : createHash('sha256').update(state.manifestHash).update(canonicalJson(edits)).digest('hex');
  const cache = editedStates.get(blobs) ?? new Map<string, FileEntry[]>();
  editedStates.set(blobs, cache);
  const cached = key === null ? undefined : cache.get(key);
  if (key !== null && cached !== undefined) {
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  const { manifest } = await loadWorkspaceState(blobs, state);
  const files = manifest.entries.filter((e): e is FileEntry => e.type === 'file');
  if (key === null) return files;
  cache.set(key, files);
  for (const oldest of cache.keys()) {
    if (cache.size <= editedStatesKept) break;
    cache.delete(oldest);
  }
  return files;
}

/** The files of the workspace states with edits read last, per blob store, by their edits' hash. */
const editedStates = new WeakMap<BlobStore, Map<string, FileEntry[]>>();
const editedStatesKept = 8;

/**
 * Files up to this size are read whole and served as text/plain when they are UTF-8 (however the
 * snapshot chunked them); larger ones stream chunk by chunk as bytes.
 */
const typedWholeMaxBytes = 4 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const binary = 'application/octet-stream';

function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function fileResponse(
  body: ConstructorParameters<typeof Response>[0],
  contentType: string,
  size?: number,
): Response {
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': contentType,
      'x-content-type-options': 'nosniff',
      'content-disposition': 'inline',
      ...(size === undefined ? {} : { 'content-length': String(size) }),
    },
  });
}

/** A chunk's bytes: kept in the manifest, or its blob, verified. */
function chunkBytes(blobs: BlobStore, chunk: ChunkRef, what: string): Promise<Uint8Array> {
  return chunk.inline === undefined
    ? verifiedBlob(blobs, chunk.sha256, what)
    : Promise.resolve(chunk.inline);
}

/** A large file, chunk by chunk, each verified: serving it holds one chunk in memory at most. */
function chunkedBody(
  blobs: BlobStore,
  chunks: readonly ChunkRef[],
  what: string,
): ReadableStream<Uint8Array> {
  const next = chunks.values();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = next.next();
        if (chunk.done === true) return controller.close();
        controller.enqueue(await chunkBytes(blobs, chunk.value, what));
      },
    },
    { highWaterMark: 0 },
  );
}

export function fileRoutes(ctx: ApiContext): void {
  filesRoute(ctx);
  fileContentRoute(ctx);
  diffRoute(ctx);
}

function diffRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/files/diff',
      summary: "What changed in the session's workspace between two of its snapshots",
      auth: true,
      params: SessionParams,
      query: WorkspaceDiffQuery,
      responses: { 200: { description: 'Changes by path.', schema: WorkspaceDiff } },
    },
    async ({ params, query, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const diff = await sessionWorkspaceDiff(store, record.id, {
        ...(query.from === undefined ? {} : { fromSeq: query.from }),
        ...(query.to === undefined ? {} : { toSeq: query.to }),
        patches: query.patches === 'true',
      });
      // A patch shows a file's lines: a credential a tool wrote there is masked like its output.
      const { mask } = await ctx.servedSecrets();
      return json(200, mask.json(diff as unknown as JsonValue));
    },
  );
}

function filesRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/files',
      summary: "The files of the session's latest workspace snapshot",
      auth: true,
      params: SessionParams,
      responses: { 200: { description: 'Regular files, by path.', schema: FileList } },
    },
    async ({ params, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const snapshot = await views.latestSnapshot(record);
      if (snapshot === null)
        return json(200, { manifestHash: null, step: null, edits: 0, files: [] });
      const files = await stateFiles(store.blobs, snapshot);
      return json(200, {
        manifestHash: snapshot.manifestHash,
        step: snapshot.step,
        edits: editCount(snapshot),
        files: files.map(({ path, size, mode }) => ({ path, size, mode })),
      });
    },
  );
}

function fileContentRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/files/content',
      summary: 'The bytes of one file of the latest workspace snapshot',
      auth: true,
      params: SessionParams,
      query: FileContentQuery,
      responses: {
        200: {
          description:
            'text/plain when the file is UTF-8 and at most 4 MiB, else application/octet-stream.',
          contentType: binary,
        },
      },
    },
    async ({ params, query, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const snapshot = await views.latestSnapshot(record);
      const files = snapshot === null ? [] : await stateFiles(store.blobs, snapshot);
      const file = files.find((f) => f.path === query.path);
      if (file === undefined) {
        throw new LongrunError(
          'NOT_FOUND',
          `no file ${JSON.stringify(query.path.slice(0, 200))} in the latest workspace snapshot of ${record.id}`,
        );
      }
      const what = `workspace file ${JSON.stringify(file.path)}`;
      const chunks = chunksOfFile(file);
      const secrets = await ctx.servedSecrets();
      // Bytes are masked byte for byte (`*`, the size kept); UTF-8 text as tools' outputs are.
      const redactor = new Redactor(secrets.values);
      if (file.size > typedWholeMaxBytes) {
        const body = ReadableStream.from(redactor.stream(chunkedBody(store.blobs, chunks, what)));
        return fileResponse(body, binary, file.size);
      }
      const parts = await Promise.all(chunks.map((chunk) => chunkBytes(store.blobs, chunk, what)));
      const bytes = Buffer.concat(parts);
      if (!isUtf8(bytes)) return fileResponse(redactor.maskInPlace(bytes), binary);
      return fileResponse(secrets.mask.text(bytes.toString('utf8')), 'text/plain; charset=utf-8');
    },
  );
}
