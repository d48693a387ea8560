import type { ScannedEntry } from './scan-workspace.ts';

/** What a snapshot of a capped workspace takes and leaves out (budgetSnapshot). */
export interface SnapshotBudget {
  /** Files left out, and why (for `skipped`). */
  readonly refused: ReadonlyMap<string, string>;
  /** The sizes, as scanned, of the files the snapshot takes; at most `maxBytes`. */
  readonly takenBytes: number;
}

/** st_blocks counts 512-byte units, whatever the filesystem's block size. */
const statBlockBytes = 512n;

interface Candidate {
  readonly path: string;
  readonly size: number;
  /** Bytes of its length that are not blocks of its own: holes, or a hard link's shared blocks. */
  readonly offDisk: number;
}

/**
 * Which regular files a snapshot of a workspace capped at `maxBytes` leaves out, from their stats
 * alone (nothing is read). A snapshot reads every byte of a file it takes, and a restore writes
 * them, so the files it takes total at most the cap. Files that are all on disk go first: the
 * cap's quota counts disk blocks, so they alone can never exceed it. What a file's length holds
 * beyond its blocks (the holes of a sparse file, made by `truncate -s` at no cost; or the blocks
 * of a hard link, already counted with its first name) is free to the sandbox and would cost the
 * worker a full read: such files come last, fewest off-disk bytes first, while room is left.
 * A file longer than the cap is always left out.
 */
export function budgetSnapshot(entries: readonly ScannedEntry[], maxBytes: number): SnapshotBudget {
  const refused = new Map<string, string>();
  const candidates: Candidate[] = [];
  const inodesSeen = new Set<string>();
  for (const { path, type, stat } of entries) {
    if (type !== 'file') continue;
    if (stat.size > BigInt(maxBytes)) {
      refused.set(path, overCapReason(stat.size, maxBytes));
      continue;
    }
    // The first name of an inode (in path order) owns its blocks; its other names own none.
    const inode = `${stat.dev}:${stat.ino}`;
    const owned = inodesSeen.has(inode) ? 0n : stat.blocks * statBlockBytes;
    inodesSeen.add(inode);
    const onDisk = owned < stat.size ? owned : stat.size;
    candidates.push({ path, size: Number(stat.size), offDisk: Number(stat.size - onDisk) });
  }
  // Stable: equals keep path order.
  candidates.sort((a, b) => a.offDisk - b.offDisk);
  let takenBytes = 0;
  for (const candidate of candidates) {
    if (takenBytes + candidate.size <= maxBytes) takenBytes += candidate.size;
    else refused.set(candidate.path, overBudgetReason(candidate, takenBytes, maxBytes));
  }
  return { refused, takenBytes };
}

function overCapReason(size: bigint, maxBytes: number): string {
  return `its ${size} bytes exceed the snapshot limit of ${maxBytes} (the workspace's size cap); not snapshotted`;
}

function overBudgetReason(file: Candidate, takenBytes: number, maxBytes: number): string {
  const past = `its ${file.size} bytes would take the snapshot past its limit of ${maxBytes} (the workspace's size cap), ${takenBytes} of which other files already fill`;
  if (file.offDisk === 0) return `${past}; not snapshotted: delete or shrink files to fit the cap`;
  return (
    `${past}; ${file.offDisk} of its bytes are not on disk (a sparse file's holes, or a hard ` +
    `link's shared blocks) yet would be read and restored in full, so files wholly on disk go ` +
    `first; not snapshotted: delete it or make it smaller`
  );
}
