import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { growWriteAheadLog } from './wal-growth.ts';
import { openWriterConnection } from './writer-connection.ts';
import { SqliteStore } from './sqlite-store.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'longrun-wal-growth-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const size = (file: string): number => statSync(file).size;
/** SQLite's WAL at 1,000 pages of 4 KiB: the header, and each frame's header and page. */
const fullWalBytes = 32 + 1000 * (4096 + 24);

function openNew(path: string): DatabaseSync {
  const { connection } = openWriterConnection(
    { path, busyTimeoutMs: 5_000, nowMs: 1 },
    { migrate: true },
  );
  connection.exec('CREATE TABLE notes (text TEXT)');
  return connection;
}

describe('growing the write-ahead log before the first commit', () => {
  it('grows it to its checkpoint size and changes nothing of the database', () => {
    const path = join(dir, 'db.sqlite');
    const db = openNew(path);
    try {
      db.prepare('INSERT INTO notes VALUES (?)').run('before');
      const dbBytes = size(path);
      const cacheSize = db.prepare('PRAGMA cache_size').get();
      const grown = growWriteAheadLog(db, path);
      expect(grown).toBeGreaterThan(0);
      const walBytes = size(`${path}-wal`);
      expect(walBytes).toBeGreaterThanOrEqual(fullWalBytes);
      expect(walBytes).toBeLessThan(fullWalBytes + 50 * 4120);
      expect(size(path)).toBe(dbBytes);
      expect(db.prepare('PRAGMA cache_size').get()).toEqual(cacheSize);
      expect(db.isTransaction).toBe(false);
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'longrun_wal_growth'").all(),
      ).toEqual([]);
      // Commits after it write over the frames it left: the file keeps its size.
      for (let i = 0; i < 200; i++) db.prepare('INSERT INTO notes VALUES (?)').run(`after ${i}`);
      expect(size(`${path}-wal`)).toBe(walBytes);
      expect(db.prepare('SELECT count(*) AS n FROM notes').get()).toEqual({ n: 201 });
      // Already grown: nothing to do.
      expect(growWriteAheadLog(db, path)).toBe(0);
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    } finally {
      db.close();
    }
  });

  it('leaves frames that no reader takes for commits, after a crash too (kill -9)', () => {
    const path = join(dir, 'crash.sqlite');
    openNew(path).close();
    // A process commits, grows the log, commits again, and is killed without closing anything.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { DatabaseSync } = await import('node:sqlite');
         const { growWriteAheadLog } = await import(${JSON.stringify(new URL('./wal-growth.ts', import.meta.url).href)});
         const db = new DatabaseSync(${JSON.stringify(path)});
         db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
         db.prepare('INSERT INTO notes VALUES (?)').run('committed before');
         const grown = growWriteAheadLog(db, ${JSON.stringify(path)});
         db.prepare('INSERT INTO notes VALUES (?)').run('committed after');
         console.log(grown);
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(Number(child.stdout.trim())).toBeGreaterThan(0);
    expect(size(`${path}-wal`)).toBeGreaterThanOrEqual(fullWalBytes);
    const db = new DatabaseSync(path);
    try {
      expect(db.prepare('SELECT text FROM notes').all()).toEqual([
        { text: 'committed before' },
        { text: 'committed after' },
      ]);
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'longrun_wal_growth'").all(),
      ).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('does nothing on a disk short of room, inside a transaction, or in memory', () => {
    const path = join(dir, 'db.sqlite');
    const db = openNew(path);
    try {
      const walBytes = size(`${path}-wal`);
      expect(growWriteAheadLog(db, path, { minFreeBytes: Number.MAX_SAFE_INTEGER })).toBe(0);
      db.exec('BEGIN');
      expect(growWriteAheadLog(db, path)).toBe(0);
      db.exec('ROLLBACK');
      expect(size(`${path}-wal`)).toBe(walBytes);
    } finally {
      db.close();
    }
    const memory = new DatabaseSync(':memory:');
    expect(growWriteAheadLog(memory, ':memory:')).toBe(0);
    memory.close();
  });

  it("is done by a store's writer thread once it has committed, not by a store only read", async () => {
    const path = join(dir, 'store.sqlite');
    openNew(path).close();
    const store = await SqliteStore.open({ path });
    try {
      expect(await store.committingOn()).toBe('writer-thread');
      await store.listSessions({ limit: 10 });
      await new Promise((r) => setTimeout(r, 200));
      const walBytes = (): number => {
        try {
          return size(`${path}-wal`);
        } catch {
          return 0;
        }
      };
      expect(walBytes()).toBeLessThan(fullWalBytes);
      await store.createSession({ agent: 'a', input: null });
      for (let i = 0; i < 100 && walBytes() < fullWalBytes; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(walBytes()).toBeGreaterThanOrEqual(fullWalBytes);
    } finally {
      await store.close();
    }
  });
});
