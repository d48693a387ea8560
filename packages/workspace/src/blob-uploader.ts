import type { BlobStore } from '@longrun/core';
import { forEachBounded } from './bounded-concurrency.ts';

/** Which blob hashes are known to be stored, so they are not asked about (or sent) again. */
export interface BlobPresence {
  has(hash: string): boolean;
  add(hashes: Iterable<string>): void;
}

export interface BlobUploaderOptions {
  /** Bytes held before asking the store which of them it lacks. Bounds memory per batch. */
  batchBytes?: number;
  /** Puts in flight at once. */
  concurrency?: number;
}

/**
 * Collects blobs as files are hashed and uploads, in batches, only those the store reports
 * missing, so content already stored (by this session, an earlier one, or another session) is
 * never sent twice. Counts what it actually sent.
 */
export class BlobUploader {
  uploadedBlobs = 0;
  uploadedBytes = 0;
  readonly #blobs: BlobStore;
  readonly #presence: BlobPresence;
  readonly #batchBytes: number;
  readonly #concurrency: number;
  #pending = new Map<string, Uint8Array>();
  #pendingBytes = 0;
  readonly #inFlight = new Set<string>();
  /** The batch being uploaded: one at a time. */
  #flushing: Promise<void> | null = null;

  constructor(blobs: BlobStore, presence: BlobPresence, options: BlobUploaderOptions = {}) {
    this.#blobs = blobs;
    this.#presence = presence;
    this.#batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
    this.#concurrency = options.concurrency ?? 4;
  }

  /**
   * Queues a blob unless it is known to be stored or queued already. `bytes` may be a view of a
   * buffer the caller reuses: what is kept is a copy, so memory is bounded by the batch, not by
   * the size of the file being read (a huge file of one repeated chunk costs one chunk). While
   * one batch uploads and the next is full, callers wait: files hashed at once (snapshots read
   * several) would otherwise start a batch each, and a workspace of gigabytes would be held in
   * memory as fast as it is read, faster than the store writes it.
   */
  async add(hash: string, bytes: Uint8Array): Promise<void> {
    while (this.#pendingBytes >= this.#batchBytes && this.#flushing !== null) await this.#flushing;
    if (this.#presence.has(hash) || this.#pending.has(hash) || this.#inFlight.has(hash)) return;
    // A copy: Buffer#slice would be a view of the buffer the caller reuses.
    this.#pending.set(hash, Uint8Array.prototype.slice.call(bytes));
    this.#pendingBytes += bytes.byteLength;
    if (this.#pendingBytes >= this.#batchBytes) await this.flush();
  }

  /** Uploads what is pending, after the batch in flight; resolves once all of it is stored. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    const batch = this.#pending;
    if (batch.size === 0) return;
    this.#pending = new Map();
    this.#pendingBytes = 0;
    const upload = this.#upload(batch);
    this.#flushing = upload.then(
      () => undefined,
      () => undefined,
    );
    try {
      await upload;
    } finally {
      this.#flushing = null;
    }
  }

  async #upload(batch: Map<string, Uint8Array>): Promise<void> {
    const hashes = [...batch.keys()];
    for (const hash of hashes) this.#inFlight.add(hash);
    try {
      const missing = await this.#blobs.missing(hashes);
      await forEachBounded(missing, this.#concurrency, async (hash) => {
        const bytes = batch.get(hash) as Uint8Array;
        const size = bytes.byteLength;
        // The copy is the uploader's own: the store may move it to its writer thread, so that
        // gigabytes of chunks are not copied again there and left for two isolates to collect.
        await this.#blobs.put(hash, bytes, { transfer: true });
        batch.delete(hash);
        this.uploadedBlobs += 1;
        this.uploadedBytes += size;
      });
      this.#presence.add(hashes);
    } finally {
      for (const hash of hashes) this.#inFlight.delete(hash);
    }
  }
}
