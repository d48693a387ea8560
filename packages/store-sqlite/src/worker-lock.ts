import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { LongrunError } from '@longrun/core';

/**
 * One live process per worker id on an embedded store. A restarted process reclaims the
 * sessions its id owned at once (`reclaimOwned`), which is only safe if the process that held
 * them is gone: a second `longrun worker` started with the same id would otherwise take over a
 * live worker's sessions while its tools still run. The guard is an operating-system lock that
 * dies with its process: a small SQLite file per worker id, held in exclusive locking mode (a
 * POSIX lock, released by the kernel when the process ends, kill -9 included).
 */
export class WorkerLock {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Takes the lock for `workerId` beside the store file; INVALID_STATE if a live process holds it. */
  static take(storePath: string, workerId: string): WorkerLock {
    const dir = `${storePath}-workers`;
    mkdirSync(dir, { recursive: true });
    const name = createHash('sha256').update(workerId).digest('hex').slice(0, 32);
    const db = new DatabaseSync(`${dir}/${name}.lock`, { timeout: 0 });
    try {
      // The file holds nothing worth keeping: the lock is what counts. Without a journal and
      // fsyncs, taking it never waits on the disk; with them (synchronous=FULL by default) it
      // took five fsyncs on this thread, which under 400 ms fsyncs stalled the event loop of a
      // starting worker, and every session it already ran, for 2 s (slow-fsync.test.ts).
      db.exec('PRAGMA journal_mode = OFF');
      db.exec('PRAGMA synchronous = OFF');
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock; exclusive mode keeps it until close.
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (at INTEGER); COMMIT');
    } catch (error) {
      db.close();
      throw new LongrunError(
        'INVALID_STATE',
        `worker id ${workerId} is in use by another live process on ${storePath}; give each worker process its own id (--worker-id)`,
        { cause: error },
      );
    }
    return new WorkerLock(db);
  }

  release(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
