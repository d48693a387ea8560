import { promisify } from 'node:util';
import { createDeflateRaw, deflateRawSync, inflateRaw, inflateRawSync } from 'node:zlib';
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

const inflateAsync = promisify(inflateRaw);

/**
 * The least zlib's output buffer is asked to hold: Buffer.allocUnsafe (which zlib allocates it
 * with) cuts shorter buffers from a slab it shares between them (64 KiB in Node 24), and gives
 * this many bytes and more a buffer of their own.
 */
const deflateChunkBytes = 64 * 1024;

/**
 * An output buffer that holds all of `length` bytes deflated (zlib's deflateBound, rounded up), so
 * that a deflate allocates one: each further one is left for the garbage collector.
 */
function outputBytesFor(length: number): number {
  return Math.max(deflateChunkBytes, length + (length >> 10) + 64);
}

/** The bytes a blob row stores: `bytes` packed when that saves at least an eighth. */
export async function packBlob(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.byteLength < packFrom || !looksCompressible(bytes)) return bytes;
  const deflated = await deflatedPieces(bytes);
  try {
    const length = deflated.reduce((sum, piece) => sum + piece.byteLength, 0);
    if (length + 1 > bytes.byteLength - (bytes.byteLength >> 3)) return bytes;
    // A buffer of its own (allocUnsafe would cut short ones from a shared slab), which the store
    // can free once written.
    const packed = new Uint8Array(length + 1);
    packed[0] = deflatedWithDictionary1;
    let at = 1;
    for (const piece of deflated) {
      packed.set(piece, at);
      at += piece.byteLength;
    }
    return packed;
  } finally {
    releaseDeflateOutput(deflated);
  }
}

/**
 * `bytes` raw-deflated against the dictionary, as zlib gave them: views of its output buffers, not
 * joined (a join is one more copy left for the garbage collector). Short blobs are deflated here
 * (tens of µs), longer ones off this thread.
 */
function deflatedPieces(bytes: Uint8Array): Promise<Buffer[]> {
  const options = { dictionary: dictionary1, chunkSize: outputBytesFor(bytes.byteLength) };
  if (bytes.byteLength <= syncUpTo) return Promise.resolve([deflateRawSync(bytes, options)]);
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    const engine = createDeflateRaw(options);
    engine.on('data', (piece: Buffer) => pieces.push(piece));
    engine.once('error', reject);
    engine.once('end', () => resolve(pieces));
    engine.end(bytes);
  });
}

/**
 * Frees the memory behind zlib's output now: a snapshot deflates thousands of chunks, and each
 * deflate's output buffer otherwise waits for a collection, up to 64 MiB of them at a time in a
 * worker. The deflate has ended and nothing else refers to those buffers. A buffer smaller than
 * asked for is not zlib's own but cut from a slab Node shares between buffers, which Node makes
 * impossible to detach (and which is left alone either way).
 */
function releaseDeflateOutput(pieces: readonly Buffer[]): void {
  for (const { buffer } of pieces) {
    if (!(buffer instanceof ArrayBuffer) || buffer.detached) continue;
    if (buffer.byteLength < deflateChunkBytes) continue;
    try {
      buffer.transfer(0);
    } catch {
      // Not detachable: a shared slab, freed with the last buffer cut from it.
    }
  }
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
