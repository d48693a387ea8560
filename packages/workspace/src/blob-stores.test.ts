import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBlobStoreContract } from './blob-store-contract.ts';
import { DirectoryBlobStore } from './directory-blob-store.ts';
import { sha256Hex } from './hashing.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { removeDir, tempDir } from './test-support/workspace-fixtures.ts';

runBlobStoreContract('memory', () => ({ store: new MemoryBlobStore() }));

runBlobStoreContract('directory', () => {
  const root = tempDir('dir-store');
  return { store: new DirectoryBlobStore(root), close: () => removeDir(root) };
});

describe('DirectoryBlobStore layout', () => {
  it('shards blobs as ab/cdef… and leaves no temporary file behind', async () => {
    const root = tempDir('dir-layout');
    try {
      const store = new DirectoryBlobStore(root);
      const bytes = new TextEncoder().encode('sharded');
      const hash = sha256Hex(bytes);
      await store.put(hash, bytes);
      expect(store.pathOf(hash)).toBe(`${root}/${hash.slice(0, 2)}/${hash.slice(2)}`);
      expect(readdirSync(`${root}/${hash.slice(0, 2)}`)).toEqual([hash.slice(2)]);
      expect(readdirSync(`${root}/.tmp`)).toEqual([]);
    } finally {
      removeDir(root);
    }
  });
});
