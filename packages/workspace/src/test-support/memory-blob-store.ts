import { checkBlobBytes, checkBlobHash, type BlobStore } from '@longrun/core';

/** Blobs in a Map: for unit tests only (nothing survives the process). */
export class MemoryBlobStore implements BlobStore {
  readonly kind = 'memory';
  readonly #blobs = new Map<string, Uint8Array>();

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    const key = checkBlobHash(hash);
    checkBlobBytes(bytes);
    if (!this.#blobs.has(key)) this.#blobs.set(key, bytes.slice());
  }

  async get(hash: string): Promise<Uint8Array | null> {
    return this.#blobs.get(checkBlobHash(hash))?.slice() ?? null;
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    return hashes.map(checkBlobHash).filter((hash) => !this.#blobs.has(hash));
  }

  /** Test hook: replaces a stored blob's bytes, as disk rot or an attacker would. */
  tamper(hash: string, bytes: Uint8Array): void {
    this.#blobs.set(hash, bytes.slice());
  }

  /** Test hook: forgets a blob. */
  drop(hash: string): void {
    this.#blobs.delete(hash);
  }

  get size(): number {
    return this.#blobs.size;
  }
}

export interface BlobCalls {
  puts: string[];
  gets: string[];
  missingCalls: number;
  missingHashes: number;
}

/** Wraps a store and records every call, to prove what was (not) written or read. */
export function countingBlobStore(inner: BlobStore): { store: BlobStore; calls: BlobCalls } {
  const calls: BlobCalls = { puts: [], gets: [], missingCalls: 0, missingHashes: 0 };
  const store: BlobStore = {
    kind: inner.kind,
    put: async (hash, bytes) => {
      calls.puts.push(hash);
      await inner.put(hash, bytes);
    },
    get: async (hash) => {
      calls.gets.push(hash);
      return inner.get(hash);
    },
    missing: async (hashes) => {
      calls.missingCalls += 1;
      calls.missingHashes += hashes.length;
      return inner.missing(hashes);
    },
  };
  return { store, calls };
}
