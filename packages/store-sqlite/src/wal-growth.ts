import { statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/** Below this much free space the log grows as commits need it, as SQLite does by itself. */
const defaultMinFreeBytes = 256 * 1024 * 1024;
/** The header of a WAL file, and of each frame in it (SQLite's file format). */
const walHeaderBytes = 32;
const frameHeaderBytes = 24;
/** The page cache while the log grows: what it cannot hold is written to the log. */
const spillCachePages = 16;

/**
 * Grows the write-ahead log of the database at `path` to the size it reaches before a checkpoint
 * lets SQLite write it over from the start (`wal_autocheckpoint` pages), so that every commit
 * after this one overwrites blocks the file already has.
 *
 * Why: a commit's fsync (synchronous=FULL) that extends the file also commits the file's new size
 * and blocks to the file system's journal; one that overwrites writes the data alone. SQLite's
 * log starts empty at every open after a clean close and grows over its first ~1,000 commits,
 * which each cost up to twice a later one (measured on this repository's ext4 machine: 0.23–0.27
 * against 0.13–0.15 ms for a step's commit). Postgres pre-allocates its WAL segments for the same
 * reason.
 *
 * How: in a transaction that is rolled back, with the page cache made small, enough pages are
 * written that SQLite spills them to the log as frames that no commit ever covers. SQLite ignores
 * such frames when it reads the log (after a crash too) and writes over them from the last
 * commit on. Nothing is committed, nothing of the database changes, and the write lock is held
 * for the few milliseconds it takes. Skipped where the log is already that large (after a crash), the
 * database is in memory, or the disk has less than 256 MiB free. Best effort: a failure leaves
 * the log as it was (rolled back) and says nothing; the commits that follow grow it.
 *
 * Returns the bytes the log was grown by (0 when it was not).
 */
export function growWriteAheadLog(
  connection: DatabaseSync,
  path: string,
  { minFreeBytes = defaultMinFreeBytes }: { minFreeBytes?: number } = {},
): number {
  if (path === ':memory:' || !connection.isOpen || connection.isTransaction) return 0;
  const pragma = (name: string): unknown =>
    Object.values(connection.prepare(`PRAGMA ${name}`).get() ?? {})[0];
  let cacheSize: number | undefined;
  try {
    if (pragma('journal_mode') !== 'wal') return 0;
    const pages = Number(pragma('wal_autocheckpoint'));
    const pageBytes = Number(pragma('page_size'));
    if (!(pages > 0) || !(pageBytes > 0)) return 0;
    const target = walHeaderBytes + pages * (pageBytes + frameHeaderBytes);
    const walBytes = fileBytes(`${path}-wal`);
    if (walBytes >= target) return 0;
    const free = statfsSync(dirname(path));
    if (free.bavail * free.bsize < minFreeBytes) return 0;
    // The frames go after the log's last commit; the last pages written stay in the cache.
    const frameBytes = pageBytes + frameHeaderBytes;
    const rows = Math.ceil((target - walBytes) / frameBytes) + 2 * spillCachePages;
    cacheSize = Number(pragma('cache_size'));
    connection.exec(`PRAGMA cache_size = ${spillCachePages}`);
    connection.exec('BEGIN IMMEDIATE');
    try {
      connection.exec('CREATE TABLE longrun_wal_growth (filler BLOB)');
      // One page of zeros per row (a row's cell and its overflow fill about one page).
      connection
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO longrun_wal_growth SELECT zeroblob(?) FROM n`,
        )
        .run(rows, pageBytes - 64);
    } finally {
      connection.exec('ROLLBACK');
    }
    return Math.max(0, fileBytes(`${path}-wal`) - walBytes);
  } catch {
    if (connection.isTransaction) connection.exec('ROLLBACK');
    return 0;
  } finally {
    if (cacheSize !== undefined) connection.exec(`PRAGMA cache_size = ${cacheSize}`);
  }
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
