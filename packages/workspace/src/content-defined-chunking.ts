import { createHash } from 'node:crypto';
import { LongrunError } from '@longrun/core';

/**
 * FastCDC (Xia et al., USENIX ATC 2016): chunk boundaries chosen by the content, so an insertion
 * or an append moves only the boundaries near it and every other chunk keeps its bytes, its hash
 * and therefore its stored blob. A gear hash rolls over the bytes (each byte shifts the hash one
 * bit left and adds a per-byte random word, so the top bits depend on the last 32 bytes only); a
 * position is a cut point when the masked bits of the hash are all zero. Normalized chunking
 * (level 2) uses a harder mask before the average size and an easier one after it, which squeezes
 * chunk sizes around the average; the first `minBytes` of a chunk are never a cut point and are
 * not even hashed, which is where FastCDC gets its speed.
 */
export interface ChunkingParameters {
  readonly minBytes: number;
  /** A power of two: the masks are derived from its bit count. */
  readonly avgBytes: number;
  readonly maxBytes: number;
}

/**
 * 16 / 64 / 256 KiB. Each chunk costs a manifest line (~80 bytes, 0.12% of 64 KiB) and a blob-store
 * object, so chunks much smaller than this would bloat the manifest that every snapshot rewrites;
 * much larger ones would re-store more bytes around each edit (an edit re-stores the one or two
 * chunks it falls in: ~64-128 KiB). 256 KiB bounds what one chunk holds in memory, and 4x the
 * average is FastCDC's usual spread. Changing these moves boundaries: new snapshots would then share
 * fewer blobs with old ones (never a correctness problem: restores only concatenate chunks).
 */
export const defaultChunking: ChunkingParameters = {
  minBytes: 16 * 1024,
  avgBytes: 64 * 1024,
  maxBytes: 256 * 1024,
};

/**
 * The gear table: 256 fixed pseudo-random 32-bit words, derived from SHA-256 so that it is the same
 * in every process and version (boundaries, and so deduplication, depend on it).
 */
const gear = Uint32Array.from({ length: 256 }, (_, byte) =>
  createHash('sha256').update(`longrun-fastcdc-gear-${byte}`).digest().readUInt32BE(0),
);

/** A mask of `bits` one-bits at the top of 32 (the bits that have seen the most bytes). */
function topBitsMask(bits: number): number {
  return bits >= 32 ? -1 : ~(0xffffffff >>> bits) | 0;
}

interface Masks {
  /** Harder: used before the average size. */
  readonly small: number;
  /** Easier: used after it. */
  readonly large: number;
}

const masksByAverage = new Map<number, Masks>();

function masksFor(params: ChunkingParameters): Masks {
  let masks = masksByAverage.get(params.avgBytes);
  if (masks === undefined) {
    const bits = Math.round(Math.log2(params.avgBytes));
    masks = { small: topBitsMask(bits + 2), large: topBitsMask(bits - 2) };
    masksByAverage.set(params.avgBytes, masks);
  }
  return masks;
}

/** INVALID_ARGUMENT unless min ≤ avg ≤ max, all positive, and avg a power of two. */
export function checkChunkingParameters(params: ChunkingParameters): ChunkingParameters {
  const { minBytes, avgBytes, maxBytes } = params;
  const integers = [minBytes, avgBytes, maxBytes].every((n) => Number.isSafeInteger(n) && n > 0);
  const powerOfTwo = integers && (avgBytes & (avgBytes - 1)) === 0 && avgBytes >= 64;
  if (!integers || !powerOfTwo || minBytes > avgBytes || avgBytes > maxBytes) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `chunking parameters ${JSON.stringify(params)} are unusable: give positive integers with ` +
        'minBytes ≤ avgBytes ≤ maxBytes and avgBytes a power of two of at least 64',
    );
  }
  return params;
}

/**
 * The length of the chunk that starts at `start` in `bytes[start, end)`: a content-defined cut
 * point, `maxBytes`, or all of what is left when that is at most `minBytes`. When fewer than
 * `maxBytes` remain and more of the file is still to come, call again with more bytes: the
 * answer depends only on the bytes from `start` on, so it is the same however the file is read.
 */
export function nextChunkLength(
  bytes: Uint8Array,
  start: number,
  end: number,
  params: ChunkingParameters = defaultChunking,
): number {
  const available = end - start;
  if (available <= params.minBytes) return available;
  const { small, large } = masksFor(params);
  const limit = start + Math.min(available, params.maxBytes);
  const normal = Math.min(start + params.avgBytes, limit);
  let hash = 0;
  let i = start + params.minBytes;
  for (; i < normal; i++) {
    hash = ((hash << 1) + (gear[bytes[i] as number] as number)) | 0;
    if ((hash & small) === 0) return i + 1 - start;
  }
  for (; i < limit; i++) {
    hash = ((hash << 1) + (gear[bytes[i] as number] as number)) | 0;
    if ((hash & large) === 0) return i + 1 - start;
  }
  return limit - start;
}
