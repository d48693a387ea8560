import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './hashing.ts';
import type { ChunkRef } from './manifest.ts';
import { minPiecedTailBytes, tailPieces, type TailPiece } from './tail-pieces.ts';

/** Deterministic text: SHA-256 in counter mode, hex. */
function text(length: number, seed: string): Buffer {
  let out = '';
  for (let i = 0; out.length < length; i++)
    out += createHash('sha256').update(`${seed}:${i}`).digest('hex');
  return Buffer.from(out.slice(0, length));
}

const refs = (pieces: readonly TailPiece[]): ChunkRef[] =>
  pieces.map(({ sha256, size }) => ({ sha256, size }));

describe('tail pieces of an appended last chunk', () => {
  it('is one piece without a previous version, or when the tail is small', () => {
    const tail = text(10_000, 'a');
    expect(tailPieces(tail, 0, undefined)).toEqual([
      { sha256: sha256Hex(tail), offset: 0, size: 10_000 },
    ]);
    const small = text(minPiecedTailBytes - 1, 'b');
    const previous = [{ sha256: sha256Hex(small.subarray(0, 100)), size: 100 }];
    expect(tailPieces(small, 0, previous)).toHaveLength(1);
  });

  it('keeps the previous pieces of an appended tail and adds the appended bytes as a new one', () => {
    const before = text(8_000, 'c');
    const after = Buffer.concat([before, text(300, 'd')]);
    // The previous version: chunks ending at 50,000, then this tail, stored whole.
    const previous = [
      { sha256: sha256Hex('earlier chunk'), size: 50_000 },
      { sha256: sha256Hex(before), size: before.length },
    ];
    expect(tailPieces(after, 50_000, previous)).toEqual([
      { sha256: sha256Hex(before), offset: 0, size: 8_000 },
      { sha256: sha256Hex(after.subarray(8_000)), offset: 8_000, size: 300 },
    ]);
    // The same tail starting elsewhere (a cut moved) or with other bytes (an edit): one piece.
    expect(tailPieces(after, 40_000, previous)).toHaveLength(1);
    const edited = Buffer.from(after);
    edited[10] = 0x21;
    expect(tailPieces(edited, 50_000, previous)).toHaveLength(1);
    // A shrunk file is not an append either.
    expect(tailPieces(after.subarray(0, 7_000), 50_000, previous)).toHaveLength(1);
  });

  it('merges pieces of about one size, so many appends keep few pieces and store little twice', () => {
    let file = text(5_000, 'start');
    let previous: ChunkRef[] = [{ sha256: sha256Hex(file), size: file.length }];
    let stored = file.length;
    const known = new Set([previous[0]?.sha256]);
    for (let step = 0; step < 300; step++) {
      file = Buffer.concat([file, text(200, `step-${step}`)]);
      const pieces = tailPieces(file, 0, previous);
      expect(pieces.reduce((sum, p) => sum + p.size, 0)).toBe(file.length);
      for (const p of pieces) {
        expect(sha256Hex(file.subarray(p.offset, p.offset + p.size))).toBe(p.sha256);
        if (!known.has(p.sha256)) stored += p.size;
        known.add(p.sha256);
      }
      expect(pieces.length).toBeLessThanOrEqual(16);
      previous = refs(pieces);
    }
    // 65,000 bytes appended in 300 steps; storing the tail whole each time would cost ~10 MB.
    expect(stored).toBeLessThan(6 * file.length);
  });
});
