import { sha256Hex } from './hashing.ts';
import type { ChunkRef } from './manifest.ts';

/** A piece of a file's last chunk: `size` bytes from `offset` within that chunk, a blob. */
export interface TailPiece {
  readonly sha256: string;
  readonly offset: number;
  readonly size: number;
}

/** A last chunk shorter than this is one blob: two manifest lines would cost more than its bytes. */
export const minPiecedTailBytes = 4 * 1024;

/**
 * Pieces of about one size merged at once. 2 (a binary counter) keeps the fewest manifest lines
 * but re-stores each byte ~log2(n) times; 3 re-stores ~log3(n) times for a few more lines, which
 * for 200-byte appends to a 64 KiB chunk stored a third fewer bytes in a simulation; 4 and up were
 * no better, as their extra manifest lines cost what their fewer merges saved.
 */
const mergedAtOnce = 3;

/**
 * How a file's last chunk (from its last content-defined cut to its end) is stored. Content-defined
 * chunking keeps every earlier chunk of an appended file, but the last one grows with each append,
 * and storing it whole at every snapshot costs its size (tens of KiB) for a 200-byte append. So
 * when the previous version of the file had a chunk boundary at `tailStart` and still holds, byte
 * for byte, the chunks it had from there, those chunks are kept and only the appended bytes become
 * a new piece. The last three pieces are then merged into one while the first of them is less
 * than twice the last (they are about one size: a base-3 counter), so a tail of n appends keeps
 * O(log n) pieces in the manifest and every byte is re-stored O(log n) times. Once a content-defined cut appears in the appended bytes,
 * the chunk it closes is an ordinary chunk again (shared with any other copy of those bytes).
 * `previous` is the previous version's chunk list (a file stored whole is one chunk).
 */
export function tailPieces(
  tail: Uint8Array,
  tailStart: number,
  previous: readonly ChunkRef[] | undefined,
): TailPiece[] {
  const kept =
    previous === undefined || tail.byteLength < minPiecedTailBytes
      ? null
      : keptPieces(tail, tailStart, previous);
  if (kept === null) return [piece(tail, 0, tail.byteLength)];
  const pieces = [...kept];
  const end = kept.at(-1);
  const appendedFrom = end === undefined ? 0 : end.offset + end.size;
  if (appendedFrom < tail.byteLength) pieces.push(piece(tail, appendedFrom, tail.byteLength));
  for (;;) {
    const last = pieces.at(-1);
    const first = pieces.at(-mergedAtOnce);
    if (last === undefined || first === undefined || first.size >= 2 * last.size) return pieces;
    pieces.splice(-mergedAtOnce, mergedAtOnce, piece(tail, first.offset, last.offset + last.size));
  }
}

/**
 * The previous version's chunks from `tailStart` on, when it has a boundary there and the tail
 * starts with exactly their bytes; null otherwise (the file was edited, not appended to).
 */
function keptPieces(
  tail: Uint8Array,
  tailStart: number,
  previous: readonly ChunkRef[],
): TailPiece[] | null {
  let start = 0;
  let index = 0;
  while (index < previous.length && start < tailStart) {
    start += (previous[index] as ChunkRef).size;
    index += 1;
  }
  if (start !== tailStart || index === previous.length) return null;
  const kept: TailPiece[] = [];
  let offset = 0;
  for (const chunk of previous.slice(index)) {
    const end = offset + chunk.size;
    if (chunk.size === 0 || end > tail.byteLength) return null;
    if (sha256Hex(tail.subarray(offset, end)) !== chunk.sha256) return null;
    kept.push({ sha256: chunk.sha256, offset, size: chunk.size });
    offset = end;
  }
  return kept;
}

function piece(tail: Uint8Array, from: number, to: number): TailPiece {
  return { sha256: sha256Hex(tail.subarray(from, to)), offset: from, size: to - from };
}
