import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import {
  checkChunkingParameters,
  defaultChunking,
  nextChunkLength,
  type ChunkingParameters,
} from './content-defined-chunking.ts';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { chunkFile } from './hash-file.ts';
import { removeDir, tempDir } from './test-support/workspace-fixtures.ts';

const small: ChunkingParameters = { minBytes: 256, avgBytes: 1024, maxBytes: 4096 };

/** Chunk lengths of `bytes` held whole in memory. */
function chunkLengths(bytes: Uint8Array, params: ChunkingParameters): number[] {
  const lengths: number[] = [];
  for (let start = 0; start < bytes.length;) {
    const length = nextChunkLength(bytes, start, bytes.length, params);
    lengths.push(length);
    start += length;
  }
  return lengths;
}

/** Deterministic pseudo-random bytes: SHA-256 in counter mode. */
function seededBytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, i = 0; offset < length; offset += 32, i++) {
    createHash('sha256').update(`${seed}:${i}`).digest().copy(out, offset);
  }
  return out;
}

function chunkHashes(bytes: Uint8Array, params: ChunkingParameters): string[] {
  let start = 0;
  return chunkLengths(bytes, params).map((length) => {
    const hash = createHash('sha256')
      .update(bytes.subarray(start, start + length))
      .digest('hex');
    start += length;
    return hash;
  });
}

describe('content-defined chunking (FastCDC)', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('cdc');
  });
  afterEach(() => removeDir(dir));

  it('keeps chunks between min and max, around the average', () => {
    const lengths = chunkLengths(randomBytes(4 * 1024 * 1024), small);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThanOrEqual(small.minBytes);
      expect(length).toBeLessThanOrEqual(small.maxBytes);
    }
    const mean = (4 * 1024 * 1024) / lengths.length;
    expect(mean).toBeGreaterThan(small.avgBytes * 0.75);
    expect(mean).toBeLessThan(small.avgBytes * 2);
    // Nothing to find in runs of one byte value: every chunk is cut at the maximum.
    expect(new Set(chunkLengths(Buffer.alloc(40_000, 7), small).slice(0, -1))).toEqual(
      new Set([small.maxBytes]),
    );
  });

  it('cuts where the content says, whatever the buffering: a file read in pieces gives the same chunks', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17); // more than one read buffer
    writeFileSync(join(dir, 'f.bin'), bytes);
    const read = await chunkFile(new ConfinedWorkspaceFiles(dir), 'f.bin', small);
    expect(read?.chunks?.map((chunk) => chunk.size)).toEqual(chunkLengths(bytes, small));
    expect(read?.chunks?.map((chunk) => chunk.sha256)).toEqual(chunkHashes(bytes, small));
    expect(read?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('an insertion in the middle changes only the chunks around it', () => {
    const before = seededBytes(1024 * 1024, 'insertion');
    const after = Buffer.concat([
      before.subarray(0, 500_000),
      Buffer.from('an inserted line\n'),
      before.subarray(500_000),
    ]);
    const old = new Set(chunkHashes(before, small));
    const fresh = chunkHashes(after, small).filter((hash) => !old.has(hash));
    expect(old.size).toBeGreaterThan(300);
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    expect(fresh.length).toBeLessThanOrEqual(3);
  });

  it('cuts the same bytes at the same places in every version (the gear table is fixed)', () => {
    // Boundaries decide what later snapshots share with earlier ones, so they must not drift:
    // these lengths were recorded when the chunker was written.
    const lengths = chunkLengths(seededBytes(1024 * 1024, 'longrun'), defaultChunking);
    expect(lengths.slice(0, 6)).toEqual(GOLDEN_LENGTHS);
  });

  it('refuses unusable parameters with INVALID_ARGUMENT', () => {
    const bad = [
      { minBytes: 0, avgBytes: 1024, maxBytes: 4096 },
      { minBytes: 256, avgBytes: 1000, maxBytes: 4096 },
      { minBytes: 2048, avgBytes: 1024, maxBytes: 4096 },
      { minBytes: 256, avgBytes: 1024, maxBytes: 512 },
    ];
    for (const params of bad) {
      let error: unknown;
      try {
        checkChunkingParameters(params);
      } catch (e) {
        error = e;
      }
      expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(checkChunkingParameters(defaultChunking)).toBe(defaultChunking);
  });
});

const GOLDEN_LENGTHS = [79_011, 113_778, 85_822, 34_166, 37_753, 94_192];
