import { appendFileSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * A stand-in for an external system that honours idempotency keys (a payment API, a ticket
 * tracker): applying the same key twice applies it once. It lives in a directory outside longrun,
 * so tests can count what really happened: `applied/` holds one file per applied key (created
 * with O_EXCL, so exactly one attempt wins), and `attempts.log` one line per attempt.
 */
export class FileLedger {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'applied'), { recursive: true });
  }

  /** Applies `entry` under `key` unless that key was applied before. Returns whether it applied now. */
  apply(key: string, entry: string): boolean {
    appendFileSync(join(this.dir, 'attempts.log'), `${key}\t${entry}\n`);
    let fd: number;
    try {
      fd = openSync(this.#fileFor(key), 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      writeSync(fd, `${key}\t${entry}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Every applied effect: key and entry. */
  applied(): { key: string; entry: string }[] {
    return readdirSync(join(this.dir, 'applied')).map((name) => {
      const [key = '', entry = ''] = readFileSync(join(this.dir, 'applied', name), 'utf8').trimEnd().split('\t');
      return { key, entry };
    });
  }

  /** Attempts per key, including ones the ledger refused as already applied. */
  attempts(): Map<string, number> {
    const counts = new Map<string, number>();
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'attempts.log'), 'utf8');
    } catch {
      return counts;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const key = line.split('\t')[0] ?? '';
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  #fileFor(key: string): string {
    return join(this.dir, 'applied', createHash('sha256').update(key).digest('hex').slice(0, 40));
  }
}
