import { createTwoFilesPatch } from 'diff';
import type { BlobStore } from '@longrun/core';
import type { PathChange } from './diff-manifests.ts';
import { fetchVerifiedBlob } from './fetch-verified-blob.ts';
import { chunksOfFile, type ManifestEntry } from './manifest.ts';

export interface UnifiedDiffOptions {
  blobs: BlobStore;
  /** Files larger than this (either side) get no text diff. Default 256 KiB. */
  maxBytes?: number;
  /** Lines of context around each hunk. Default 3. */
  context?: number;
  /** Gives up on a pathological diff after this long. Default 2,000 ms. */
  timeoutMs?: number;
  /** For error messages only: the manifest the "after" side came from. */
  manifestHash?: string;
}

/** Why a change has no text diff, or null when it can have one. */
export type NoTextDiffReason = 'not-a-file' | 'too-large' | 'binary' | 'too-complex';

export type UnifiedDiffResult = { patch: string } | { patch: null; reason: NoTextDiffReason };

/**
 * A unified diff (`--- a/path`, `+++ b/path`, hunks) of one changed, added or removed file, read
 * through the blob store with every blob verified. Only for small text files: binary content (a
 * NUL byte, or not UTF-8), large files and symlink or directory changes get a reason instead.
 */
export async function unifiedDiff(
  change: PathChange,
  options: UnifiedDiffOptions,
): Promise<UnifiedDiffResult> {
  const { before, after } = change;
  const isFileOrAbsent = (e: ManifestEntry | undefined) => e === undefined || e.type === 'file';
  if (!isFileOrAbsent(before) || !isFileOrAbsent(after))
    return { patch: null, reason: 'not-a-file' };
  const maxBytes = options.maxBytes ?? 256 * 1024;
  if (change.sizeBefore > maxBytes || change.sizeAfter > maxBytes) {
    return { patch: null, reason: 'too-large' };
  }
  const oldText = await textOf(before, options);
  const newText = await textOf(after, options);
  if (oldText === null || newText === null) return { patch: null, reason: 'binary' };
  const patch = createTwoFilesPatch(
    before === undefined ? '/dev/null' : `a/${change.path}`,
    after === undefined ? '/dev/null' : `b/${change.path}`,
    oldText,
    newText,
    undefined,
    undefined,
    { context: options.context ?? 3, timeout: options.timeoutMs ?? 2_000 },
  );
  return patch === undefined ? { patch: null, reason: 'too-complex' } : { patch };
}

/** The file's text, '' for an absent side, null when it is not text. */
async function textOf(
  entry: ManifestEntry | undefined,
  options: UnifiedDiffOptions,
): Promise<string | null> {
  if (entry?.type !== 'file') return '';
  const context = { path: entry.path, manifestHash: options.manifestHash ?? '(unknown manifest)' };
  const parts: Uint8Array[] = [];
  for (const chunk of chunksOfFile(entry))
    parts.push(chunk.inline ?? (await fetchVerifiedBlob(options.blobs, chunk.sha256, context)));
  const bytes = Buffer.concat(parts);
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
