import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRaw, inflateRawSync } from 'node:zlib';
import { deflateSavesAnEighth } from './deflate-estimate.ts';

/**
 * How the session stores' blob tables keep a blob: its bytes as they are, or, when that saves at
 * least an eighth, packed: one format byte, then the bytes raw-deflated against a fixed dictionary.
 * A row keeps the blob's length beside its bytes, so a row whose bytes are shorter than that
 * length holds them packed, and every row written before packing was added (never shorter) reads
 * as it is: no migration. A blob is still named by the SHA-256 of its own bytes, and readers
 * verify that after unpacking.
 *
 * Workspace blobs are mostly text: manifests (hex hashes in JSON) pack to about half, the pieces
 * of an appended log to a fifth. The dictionary holds the JSON a manifest repeats, which a
 * manifest of a few hundred bytes could not otherwise refer back to: it saves a quarter more.
 */

/** Shorter blobs are kept as they are: deflate would save less than a row's own overhead. */
const packFrom = 48;

/** Blobs up to this long are deflated on the calling thread (tens of µs); longer ones off it. */
const syncUpTo = 16 * 1024;

/** The first byte of a packed blob: which dictionary it was deflated against. */
const deflatedWithDictionary1 = 1;

/** Never edit: blobs packed with it are read with it. A new dictionary takes a new format byte. */
const dictionary1 = Buffer.from(
  [
    '{"version":2,"entries":[{"path":"',
    '","type":"dir","mode":493},{"path":"',
    '","type":"symlink","target":"',
    '","type":"file","size":',
    ',"mode":420,"sha256":"',
    '","chunks":[["',
    '",65536],["',
    '{"version":3,"base":"',
    '","entries":[{"path":"',
    '"]],"removed":["',
  ].join(''),
);

const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

/** The bytes a blob row stores: `bytes` packed when that saves at least an eighth. */
export async function packBlob(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.byteLength < packFrom || !looksCompressible(bytes)) return bytes;
  const options = { dictionary: dictionary1 };
  const deflated =
    bytes.byteLength <= syncUpTo
      ? deflateRawSync(bytes, options)
      : await deflateAsync(bytes, options);
  if (deflated.byteLength + 1 > bytes.byteLength - (bytes.byteLength >> 3)) return bytes;
  const packed = Buffer.allocUnsafe(deflated.byteLength + 1);
  packed[0] = deflatedWithDictionary1;
  deflated.copy(packed, 1);
  return packed;
}

/** Bytes looked at first, to tell compressed or random content cheaply. */
const sampleBytes = 4 * 1024;

/**
 * Whether a longer blob's first `sampleBytes` would deflate by an eighth (deflate-estimate.ts,
 * which allocates nothing): a workspace's binaries, images and archives do not, and deflating all
 * of their bytes to learn so tripled the time of a first snapshot of 100 MB of them.
 */
function looksCompressible(bytes: Uint8Array): boolean {
  if (bytes.byteLength <= sampleBytes) return true;
  return deflateSavesAnEighth(bytes.subarray(0, sampleBytes));
}

/**
 * A blob's bytes from its row: `stored` as it is when it is `size` bytes long, else unpacked. A
 * row that does not unpack to `size` bytes (damaged, or of a format this longrun does not know) is
 * returned as stored, so that the reader's hash check reports it as corrupt.
 */
export async function unpackBlob(stored: Uint8Array, size: number): Promise<Uint8Array> {
  if (stored.byteLength >= size || stored[0] !== deflatedWithDictionary1) return stored;
  const deflated = stored.subarray(1);
  const options = { dictionary: dictionary1, maxOutputLength: size };
  try {
    const inflated =
      size <= syncUpTo ? inflateRawSync(deflated, options) : await inflateAsync(deflated, options);
    return inflated.byteLength === size ? inflated : stored;
  } catch {
    return stored;
  }
}
