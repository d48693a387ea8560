import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import type { BlobStore } from '@longrun/core';
import { BlobUploader } from './blob-uploader.ts';

const mib = 1024 * 1024;

/** A blob store whose puts wait until `release` is called: an upload that cannot keep up. */
function stalledStore(): BlobStore & { release(): void; puts: number } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const store = {
    kind: 'stalled',
    puts: 0,
    release,
    put: async () => {
      store.puts += 1;
      await released;
    },
    get: () => Promise.resolve(null),
    missing: (hashes: readonly string[]) => Promise.resolve([...hashes]),
  };
  return store;
}

describe('BlobUploader', () => {
  it('holds at most the batch in flight and one more while uploads lag, however many files are read at once', async () => {
    const store = stalledStore();
    const batchBytes = 8 * mib;
    const uploader = new BlobUploader(
      store,
      { has: () => false, add: () => undefined },
      {
        batchBytes,
      },
    );
    // Four readers, as a snapshot hashes four files at once, each adding 1 MiB chunks of its own.
    let accepted = 0;
    const readers = [0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 64; i++) {
        const chunk = randomBytes(mib);
        await uploader.add(createHash('sha256').update(chunk).digest('hex'), chunk);
        accepted += mib;
      }
    });
    // Until the store answers, the readers stall: what they handed over stays bounded.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(store.puts).toBeGreaterThan(0);
    expect(accepted, 'bytes taken while the first batch uploads').toBeLessThanOrEqual(
      2 * batchBytes + 4 * mib,
    );
    store.release();
    await Promise.all(readers);
    await uploader.flush();
    expect(uploader.uploadedBytes).toBe(4 * 64 * mib);
  });
});
