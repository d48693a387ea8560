import type pg from 'pg';
import type { SchemaName } from './schema-name.ts';

/**
 * Vacuum once at least this many characters of checkpoint state were written since the last,
 * if the vacuums so far leave the server time for other work (`busyShare`), and once
 * `maxChars` were written in any case. Each vacuum costs the server a few milliseconds, and on
 * PostgreSQL 15 also a scan of all of pg_class (see #vacuumStatement), whose cost grows with the
 * database's relations: where pg_class was 38 MB, 46 vacuums of a 256 KiB floor in a
 * 32-session × 200-step run took it from 2,400 to 2,011 steps/s, and a 1 MiB floor cost 4%;
 * where it is 6-13 MB (a vacuum 4-13 ms), steps/s at 32 sessions were the same with either
 * floor (3,774 and 3,860, medians of six steady runs of runPeerSessions, interleaved; there the
 * half-the-table rule spaces them out), and an 800-step run keeps 1.39-1.45 MB rather than
 * 1.47-1.49 (1.36-1.37 with no limit on the time; 1.48 with a 2% share).
 */
const minChars = 256 * 1024;

/** The most characters written between two vacuums, however long the last one took. */
const maxChars = 1024 * 1024;

/**
 * The most of its time the store spends vacuuming: after a vacuum that took t, the next waits
 * t × (1 / busyShare - 1), unless `maxChars` were written meanwhile.
 */
const busyShare = 0.05;

/**
 * A session's checkpoint is replaced in place, but in PostgreSQL a replaced row stays on disk
 * until VACUUM: a checkpoint of more than ~2 kB is compressed into TOAST chunks, and pruning,
 * which frees the old versions of small rows without VACUUM, does not reach those. A checkpoint
 * grows with the session (it carries the transcript) and is written every 64 events, so every
 * version left behind makes storage grow as the square of a session's length: 557 kB of TOAST
 * for one live 25 kB checkpoint after an 800-step run, where autovacuum is off or has not come
 * round yet (it looks once a minute at most).
 *
 * So the store vacuums the checkpoints' TOAST table itself (the table's own row versions are
 * pruned without it), in the background on one pooled connection, once the checkpoint text
 * written since the last time reaches half the table's size then (and at least 256 KiB, or up
 * to 1 MiB while vacuums take long: see minChars): the space of the old versions is reused by
 * the next ones. Text written is at least what it takes stored (TOAST compresses it), so each
 * round's new versions fit in the space the last vacuum freed once the table is twice its live
 * size, and it stops growing there whatever the fleet (about 1.1× live plus ~100 kB for
 * checkpoints that compress ~10×, as a harness's do; the first vacuum also adds a free-space
 * map and a visibility map). One vacuum at a time per store; SKIP_LOCKED, so one running from
 * another process (or autovacuum) is left alone rather than waited for. A failure is reported to
 * `log` and changes nothing else: the next checkpoints try again.
 */
export class CheckpointVacuum {
  readonly #pool: Pick<pg.Pool, 'query'>;
  readonly #table: string;
  readonly #partsTable: string;
  readonly #log: ((message: string) => void) | undefined;
  readonly #nowMs: () => number;
  #written = 0;
  #threshold = minChars;
  /** When the next vacuum may start, by `#nowMs`, unless `maxChars` were written. */
  #notBeforeMs = 0;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** The VACUUM statement for the checkpoints' TOAST table, made at the first vacuum. */
  #statement: string | null = null;

  /** `nowMs`: a monotonic clock in ms (tests inject one; default `performance.now`). */
  constructor(
    pool: Pick<pg.Pool, 'query'>,
    schema: SchemaName,
    log?: (message: string) => void,
    nowMs: () => number = () => performance.now(),
  ) {
    this.#pool = pool;
    this.#nowMs = nowMs;
    this.#table = `${schema.quoted}.checkpoints`;
    this.#partsTable = `${schema.quoted}.checkpoint_parts`;
    this.#log = log;
  }

  /**
   * A checkpoint of `chars` characters was committed (its state and the parts it added: a part
   * is written once, but a merge removes the parts before it, which leaves their TOAST behind).
   */
  written(chars: number): void {
    this.#written += chars;
    if (this.#written < this.#threshold || this.#running !== null || this.#stopped) return;
    if (this.#written < maxChars && this.#nowMs() < this.#notBeforeMs) return;
    this.#written = 0;
    this.#running = this.#vacuum().finally(() => {
      this.#running = null;
    });
  }

  /** Waits for a vacuum under way; starts no more. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #vacuum(): Promise<void> {
    try {
      this.#statement ??= await this.#vacuumStatement();
      const startedMs = this.#nowMs();
      await this.#pool.query(this.#statement);
      const endedMs = this.#nowMs();
      this.#notBeforeMs = endedMs + (endedMs - startedMs) * (1 / busyShare - 1);
      const { rows } = await this.#pool.query<{ bytes: string }>(
        `SELECT coalesce(pg_total_relation_size(to_regclass($1)), 0)
           + coalesce(pg_total_relation_size(to_regclass($2)), 0) AS bytes`,
        [this.#table, this.#partsTable],
      );
      this.#threshold = Math.max(minChars, Number(rows[0]?.bytes ?? 0) / 2);
    } catch (error) {
      this.#log?.(`vacuuming ${this.#table} failed: ${(error as Error).message}`);
    }
  }

  /**
   * VACUUM of the TOAST table (`pg_toast.pg_toast_<oid>`). It gives back empty pages at the end
   * of the file, as autovacuum does (an 800-step run kept 45 kB more without): for that it takes
   * a lock that makes an append carrying a checkpoint wait, and lets go within 20 ms of one
   * waiting. From PostgreSQL 16,
   * SKIP_DATABASE_STATS: each VACUUM otherwise ends by scanning all of pg_class to update the
   * database's oldest unfrozen XID (20–75 ms a vacuum here, where pg_class is 38 MB), which a
   * vacuum of one small table hardly ever moves; autovacuum and other vacuums still do it.
   */
  async #vacuumStatement(): Promise<string> {
    // The checkpoints' TOAST table and the parts' (schema 17 on), in one VACUUM: one scan of
    // pg_class at its end on PostgreSQL 15, whatever the number of tables.
    const { rows } = await this.#pool.query<{ toast: string; v16: boolean }>(
      `SELECT reltoastrelid::regclass::text AS toast,
         current_setting('server_version_num')::int >= 160000 AS v16
       FROM pg_class WHERE oid IN (to_regclass($1), to_regclass($2)) AND reltoastrelid <> 0`,
      [this.#table, this.#partsTable],
    );
    const found = rows[0];
    if (found === undefined) throw new Error('it has no TOAST table');
    const options = `SKIP_LOCKED${found.v16 ? ', SKIP_DATABASE_STATS' : ''}`;
    return `VACUUM (${options}) ${rows.map((r) => r.toast).join(', ')}`;
  }
}
