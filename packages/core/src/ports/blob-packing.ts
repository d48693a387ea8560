import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRaw, inflateRawSync } from 'node:zlib';

/**
 * How the session stores' blob tables keep a blob: its bytes as they are, or, when that saves at
 * least an eighth, raw-deflated. A row keeps the blob's length beside its bytes, so a row whose
 * bytes are shorter than that length holds them deflated, and every row written before deflating
 * was added (never shorter) reads as it is: no format byte, no migration. A blob is still named by
 * the SHA-256 of its own bytes, and readers verify that after unpacking.
 *
 * Workspace blobs are mostly text (manifests of hex hashes, sources, appended logs): a manifest
 * deflates to about half, an appended log's pieces to a fifth.
 */

/** Shorter blobs are kept as they are: deflate would save less than a row's own overhead. */
const packFrom = 48;

/** Blobs up to this long are deflated on the calling thread (tens of µs); longer ones off it. */
const syncUpTo = 16 * 1024;

const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

/** The bytes a blob row stores: `bytes` deflated when that saves at least an eighth. */
export async function packBlob(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.byteLength < packFrom) return bytes;
  const deflated = bytes.byteLength <= syncUpTo ? deflateRawSync(bytes) : await deflateAsync(bytes);
  return deflated.byteLength <= bytes.byteLength - (bytes.byteLength >> 3) ? deflated : bytes;
}

/**
 * A blob's bytes from its row: `stored` as it is when it is `size` bytes long, else inflated. A
 * row that does not inflate to `size` bytes is returned as stored, so that the reader's hash
 * check reports it as corrupt.
 */
export async function unpackBlob(stored: Uint8Array, size: number): Promise<Uint8Array> {
  if (stored.byteLength >= size) return stored;
  try {
    const inflated =
      size <= syncUpTo
        ? inflateRawSync(stored, { maxOutputLength: size })
        : await inflateAsync(stored, { maxOutputLength: size });
    return inflated.byteLength === size ? inflated : stored;
  } catch {
    return stored;
  }
}
