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
      '{"version":1,"chunkBytes":4194304,"entries":[' +
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

  it('refuses chunk lists that do not match the size', () => {
    const chunkBytes = 4;
    const good = createManifest(
      [
        {
          type: 'file',
          path: 'f',
          size: 9,
          mode: 0o644,
          sha256: h('f'),
          chunks: [h('1'), h('2'), h('3')],
        },
      ],
      chunkBytes,
    );
    const { bytes, hash } = encodeManifest(good);
    expect(parseManifest(bytes, hash).entries).toHaveLength(1);
    const bad = encodeManifest(
      createManifest(
        [{ type: 'file', path: 'f', size: 9, mode: 0o644, sha256: h('f'), chunks: [h('1')] }],
        chunkBytes,
      ),
    );
    expect(() => parseManifest(bad.bytes, bad.hash)).toThrow(/not a well-formed file entry/);
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
