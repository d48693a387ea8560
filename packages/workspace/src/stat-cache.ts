import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isBlobHash, LongrunError, type BlobStore } from '@longrun/core';
import type { ChunkRef } from './manifest.ts';

export interface CachedHash {
  readonly sha256: string;
  readonly chunks?: readonly ChunkRef[];
}

interface CacheRecord extends CachedHash {
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
  /** Wall-clock time, taken before the stat, of the snapshot that read these bytes. */
  readonly verifiedAtNs: bigint;
}

export interface StatCacheOptions {
  /**
   * Where to persist the cache between processes: a file in a longrun-private directory, never
   * inside the workspace (refused with INVALID_ARGUMENT). Without it the cache lives in memory.
   */
  file?: string;
  /** See StatCache. Default 50 ms. */
  racyWindowMs?: number;
}

const nsPerMs = 1_000_000n;
const nsPerSecond = 1_000_000_000n;
/** FAT stores 2-second times, ext3 and HFS+ whole seconds: a ctime with no fraction means coarse. */
const coarseWindowNs = 2n * nsPerSecond;
/** 2 since chunks carry their sizes (content-defined chunking); a version 1 file is ignored. */
const persistedVersion = 2;

/**
 * path → (size, mtime, ctime, inode, device) → hash, so a re-snapshot reads only files whose stat
 * changed. The trap is the "racily clean" file (git's term): a file written again within the same
 * timestamp tick as the stat we cached keeps an identical stat with different bytes. So a cached
 * hash is trusted only when the file's ctime was already `racyWindowMs` old when the snapshot that
 * hashed it began; a later write then necessarily carries a later ctime. A file hashed sooner after
 * its last change is re-read (once more) by the next snapshot. ctime, not mtime, decides, because
 * the kernel sets ctime from its own clock on every change and nobody can set it back. The window
 * covers Linux's coarse timestamp clock (one scheduler tick, ≤ 10 ms) and its lag behind the wall
 * clock; whole-second filesystems get 2 s. Workspaces on a filesystem whose clock is not this
 * machine's (NFS with skew) must not use a cache.
 */
export class StatCache {
  readonly file: string | undefined;
  readonly #racyWindowNs: bigint;
  #root: string | undefined;
  #loaded = false;
  #records = new Map<string, CacheRecord>();
  /** Blob hashes this process has seen stored (uploaded or confirmed), per blob store. */
  #present = new WeakMap<BlobStore, Set<string>>();

  constructor(options: StatCacheOptions = {}) {
    this.file = options.file === undefined ? undefined : resolve(options.file);
    this.#racyWindowNs = BigInt(Math.round((options.racyWindowMs ?? 50) * 1e6));
  }

  get size(): number {
    return this.#records.size;
  }

  /** Ties the cache to one workspace root (another root empties it) and loads the file once. */
  async bind(root: string): Promise<void> {
    if (this.file !== undefined) {
      const inside = relative(root, this.file);
      if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `the stat cache file ${this.file} is inside the workspace ${root}: it would be snapshotted; keep it in a longrun-private directory`,
        );
      }
    }
    if (this.#root !== undefined && this.#root !== root) this.#records.clear();
    this.#root = root;
    if (!this.#loaded && this.file !== undefined) await this.#load(this.file, root);
    this.#loaded = true;
  }

  /** The cached hash when `stat` is unchanged and the hash was taken safely after the last change. */
  lookup(path: string, stat: BigIntStats): CachedHash | undefined {
    const r = this.#records.get(path);
    if (r === undefined) return undefined;
    const same =
      r.size === stat.size &&
      r.mtimeNs === stat.mtimeNs &&
      r.ctimeNs === stat.ctimeNs &&
      r.ino === stat.ino &&
      r.dev === stat.dev;
    if (!same) return undefined;
    const window =
      r.ctimeNs % nsPerSecond === 0n
        ? maxOf(this.#racyWindowNs, coarseWindowNs)
        : this.#racyWindowNs;
    if (r.verifiedAtNs - r.ctimeNs < window) return undefined;
    // Chunks that do not add up to the file would make a manifest restore refuses: read it again.
    const chunked = r.chunks?.reduce((sum, chunk) => sum + BigInt(chunk.size), 0n);
    return chunked === undefined || chunked === stat.size ? pickHash(r) : undefined;
  }

  record(path: string, stat: BigIntStats, verifiedAtMs: number, hash: CachedHash): void {
    const { size, mtimeNs, ctimeNs, ino, dev } = stat;
    const verifiedAtNs = BigInt(Math.floor(verifiedAtMs)) * nsPerMs;
    this.#records.set(path, { size, mtimeNs, ctimeNs, ino, dev, verifiedAtNs, ...pickHash(hash) });
  }

  /** Forgets every path not in `paths` (files deleted since). */
  retain(paths: ReadonlySet<string>): void {
    for (const path of this.#records.keys()) if (!paths.has(path)) this.#records.delete(path);
  }

  isPresent(blobs: BlobStore, hash: string): boolean {
    return this.#present.get(blobs)?.has(hash) ?? false;
  }

  markPresent(blobs: BlobStore, hashes: Iterable<string>): void {
    let set = this.#present.get(blobs);
    if (set === undefined) this.#present.set(blobs, (set = new Set()));
    for (const hash of hashes) set.add(hash);
  }

  /** Writes the cache file (temp file + rename: a torn write is never read back as a cache). */
  async save(): Promise<void> {
    if (this.file === undefined || this.#root === undefined) return;
    const records = [...this.#records].map(([path, r]) => [
      path,
      ...[r.size, r.mtimeNs, r.ctimeNs, r.ino, r.dev, r.verifiedAtNs].map(String),
      r.sha256,
      ...(r.chunks === undefined ? [] : [r.chunks.map((chunk) => [chunk.sha256, chunk.size])]),
    ]);
    const text = JSON.stringify({ version: persistedVersion, root: this.#root, records });
    await mkdir(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, text);
    await rename(temp, this.file);
  }

  /** A missing, unreadable or foreign cache file is an empty cache: it only ever saves work. */
  async #load(file: string, root: string): Promise<void> {
    let document: unknown;
    try {
      document = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      return;
    }
    const { version, root: savedRoot, records } = (document ?? {}) as Record<string, unknown>;
    if (version !== persistedVersion || savedRoot !== root || !Array.isArray(records)) return;
    for (const row of records) {
      const record = parseRecord(row);
      if (record !== null) this.#records.set(record[0], record[1]);
    }
  }
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function pickHash(hash: CachedHash): CachedHash {
  return hash.chunks === undefined
    ? { sha256: hash.sha256 }
    : { sha256: hash.sha256, chunks: hash.chunks.map(({ sha256, size }) => ({ sha256, size })) };
}

function parseRecord(row: unknown): [string, CacheRecord] | null {
  if (!Array.isArray(row) || row.length < 8) return null;
  const [path, size, mtimeNs, ctimeNs, ino, dev, verifiedAtNs, sha256, chunks] = row as unknown[];
  const numbers = [size, mtimeNs, ctimeNs, ino, dev, verifiedAtNs];
  if (typeof path !== 'string' || !isBlobHash(sha256)) return null;
  if (!numbers.every((n) => typeof n === 'string' && /^\d+$/.test(n))) return null;
  const chunkRefs = chunks === undefined ? undefined : parseChunks(chunks);
  if (chunkRefs === null) return null;
  const [s, m, c, i, d, v] = (numbers as string[]).map((n) => BigInt(n)) as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const hash = chunkRefs === undefined ? { sha256 } : { sha256, chunks: chunkRefs };
  return [path, { size: s, mtimeNs: m, ctimeNs: c, ino: i, dev: d, verifiedAtNs: v, ...hash }];
}

function parseChunks(raw: unknown): ChunkRef[] | null {
  if (!Array.isArray(raw)) return null;
  const chunks: ChunkRef[] = [];
  for (const pair of raw) {
    if (!Array.isArray(pair)) return null;
    const [sha256, size] = pair as unknown[];
    if (!isBlobHash(sha256) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1)
      return null;
    chunks.push({ sha256, size });
  }
  return chunks;
}
