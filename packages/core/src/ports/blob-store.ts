/**
 * Content-addressed bytes: workspace files and manifests, keyed by the SHA-256 of their content
 * (lowercase hex). Storing the same content twice stores it once, across sessions. The store does
 * not trust itself: readers verify a blob's hash before they use it (a corrupt blob is reported,
 * never used). Implementations: the session store's own tables (the default), a directory, and
 * S3-compatible object storage.
 */
export interface BlobPutOptions {
  /**
   * The caller gives `bytes` up and never reads them again: the store frees their buffer once they
   * are written (detached, 0 bytes long from then on) instead of leaving it for a collection, and
   * a store that writes on another thread may move it there. Bytes that are a view of a larger
   * buffer are copied all the same, and their buffer left alone.
   */
  transfer?: boolean;
}

export interface BlobStore {
  readonly kind: string;
  /** Stores `bytes` under `hash`. A hash already stored is left as it is. */
  put(hash: string, bytes: Uint8Array, options?: BlobPutOptions): Promise<void>;
  /** The bytes stored under `hash`, or null when there are none. */
  get(hash: string): Promise<Uint8Array | null>;
  /** The subset of `hashes` that is not stored, in the order given. */
  missing(hashes: readonly string[]): Promise<string[]>;
}

const sha256Hex = /^[0-9a-f]{64}$/;

export function isBlobHash(value: unknown): value is string {
  return typeof value === 'string' && sha256Hex.test(value);
}
