import type { BigIntStats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { createManifest, encodeManifest, type ManifestEntry } from './manifest.ts';
import { parseManifest } from './parse-manifest.ts';
import { sha256Hex } from './hashing.ts';
import { StatCache } from './stat-cache.ts';

const h = (text: string) => sha256Hex(text);

const entries: ManifestEntry[] = [
  { type: 'file', path: 'src/b.ts', mode: 0o644, size: 1, sha256: h('b') },
  { path: 'src', type: 'dir', mode: 0o755 },
  { target: 'src/b.ts', type: 'symlink', path: 'link' },
  { sha256: h('a'), size: 1, mode: 0o755, path: 'a.sh', type: 'file' },
];

describe('manifest', () => {
  it('is canonical: any input order and key order give the same bytes and hash', () => {
    const one = encodeManifest(createManifest(entries));
    const two = encodeManifest(createManifest([...entries].reverse()));
    expect(Buffer.from(one.bytes)).toEqual(Buffer.from(two.bytes));
    expect(one.hash).toBe(two.hash);
    expect(new TextDecoder().decode(one.bytes)).toBe(
      '{"version":2,"entries":[' +
        `{"path":"a.sh","type":"file","size":1,"mode":493,"sha256":"${h('a')}"},` +
        '{"path":"link","type":"symlink","target":"src/b.ts"},' +
        '{"path":"src","type":"dir","mode":493},' +
        `{"path":"src/b.ts","type":"file","size":1,"mode":420,"sha256":"${h('b')}"}]}`,
    );
  });

  it('parses back what it wrote, and refuses bytes that do not match their name', () => {
    const { bytes, hash } = encodeManifest(createManifest(entries));
    expect(parseManifest(bytes, hash)).toEqual(createManifest(entries));
    const tampered = new TextEncoder().encode(
      new TextDecoder().decode(bytes).replace('a.sh', 'b.sh'),
    );
    let error: unknown;
    try {
      parseManifest(tampered, hash);
    } catch (e) {
      error = e;
    }
    expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain('hash to');
  });

  it('lists chunks as [sha256, size] pairs, and refuses lists that do not add up to the size', () => {
    const file = { type: 'file', path: 'f', size: 9, mode: 0o644, sha256: h('f') } as const;
    const chunks = [
      { sha256: h('1'), size: 4 },
      { sha256: h('2'), size: 5 },
    ];
    const good = encodeManifest(createManifest([{ ...file, chunks }]));
    expect(new TextDecoder().decode(good.bytes)).toContain(
      `"chunks":[["${h('1')}",4],["${h('2')}",5]]`,
    );
    expect(parseManifest(good.bytes, good.hash).entries).toEqual([{ ...file, chunks }]);
    const refused = [
      [{ sha256: h('1'), size: 4 }], // one chunk: the file is its own blob
      [...chunks, { sha256: h('3'), size: 1 }], // 10 bytes for a file of 9
      [
        { sha256: h('1'), size: 0 },
        { sha256: h('2'), size: 9 },
      ], // an empty chunk
    ];
    for (const bad of refused) {
      const { bytes, hash } = encodeManifest(createManifest([{ ...file, chunks: bad }]));
      expect(() => parseManifest(bytes, hash)).toThrow(/not a well-formed file entry/);
    }
  });

  it('reads a version 1 manifest (fixed-size chunks as bare hashes) and gives its chunks sizes', () => {
    const v1 = (entry: object) => {
      const bytes = new TextEncoder().encode(
        JSON.stringify({ version: 1, chunkBytes: 4, entries: [entry] }),
      );
      return { bytes, hash: sha256Hex(bytes) };
    };
    const file = { path: 'f', type: 'file', size: 9, mode: 0o644, sha256: h('f') };
    const chunked = v1({ ...file, chunks: [h('1'), h('2'), h('3')] });
    expect(parseManifest(chunked.bytes, chunked.hash)).toEqual({
      version: 2,
      entries: [
        {
          ...file,
          chunks: [
            { sha256: h('1'), size: 4 },
            { sha256: h('2'), size: 4 },
            { sha256: h('3'), size: 1 },
          ],
        },
      ],
    });
    const small = v1({ ...file, size: 3 });
    expect(parseManifest(small.bytes, small.hash).entries).toEqual([{ ...file, size: 3 }]);
    for (const bad of [v1({ ...file, chunks: [h('1')] }), v1(file)]) {
      expect(() => parseManifest(bad.bytes, bad.hash)).toThrow(/not a well-formed file entry/);
    }
  });

  it('refuses a manifest from a newer longrun, saying to upgrade', () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ version: 4, entries: [] }));
    expect(() => parseManifest(bytes, sha256Hex(bytes))).toThrow(
      /version 4 is newer than this longrun reads \(3\): upgrade/,
    );
  });
});

describe('StatCache racy rule', () => {
  const stat = (ctimeNs: bigint) =>
    ({
      size: 10n,
      mtimeNs: ctimeNs,
      ctimeNs,
      ino: 7n,
      dev: 1n,
      mode: 0o100644n,
    }) as unknown as BigIntStats;
  const hash = { sha256: h('x') };

  it('trusts a hash only when the file was settled for the racy window before it was read', () => {
    const cache = new StatCache({ racyWindowMs: 50 });
    const ctimeNs = 1_700_000_000_123_456_789n;
    const ctimeMs = Number(ctimeNs / 1_000_000n);
    cache.record('a', stat(ctimeNs), ctimeMs + 10, hash);
    expect(cache.lookup('a', stat(ctimeNs))).toBeUndefined();
    cache.record('a', stat(ctimeNs), ctimeMs + 51, hash);
    expect(cache.lookup('a', stat(ctimeNs))).toEqual(hash);
    expect(cache.lookup('a', stat(ctimeNs + 1n))).toBeUndefined(); // any stat change: re-read
  });

  it('does not trust chunks that do not add up to the file', () => {
    const cache = new StatCache({ racyWindowMs: 50 });
    const ctimeNs = 1_700_000_000_123_456_789n;
    const settledMs = Number(ctimeNs / 1_000_000n) + 51;
    const chunks = [
      { sha256: h('1'), size: 4 },
      { sha256: h('2'), size: 6 },
    ];
    cache.record('a', stat(ctimeNs), settledMs, { sha256: h('x'), chunks });
    expect(cache.lookup('a', stat(ctimeNs))).toEqual({ sha256: h('x'), chunks });
    cache.record('a', stat(ctimeNs), settledMs, { sha256: h('x'), chunks: chunks.slice(1) });
    expect(cache.lookup('a', stat(ctimeNs))).toBeUndefined();
  });

  it('widens the window to 2 s for filesystems with whole-second timestamps', () => {
    const cache = new StatCache({ racyWindowMs: 50 });
    const ctimeNs = 1_700_000_000_000_000_000n;
    const ctimeMs = Number(ctimeNs / 1_000_000n);
    cache.record('a', stat(ctimeNs), ctimeMs + 1_000, hash);
    expect(cache.lookup('a', stat(ctimeNs))).toBeUndefined();
    cache.record('a', stat(ctimeNs), ctimeMs + 2_000, hash);
    expect(cache.lookup('a', stat(ctimeNs))).toEqual(hash);
  });
});
