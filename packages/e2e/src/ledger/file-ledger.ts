import {
  appendFileSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * A stand-in for an external system that honours idempotency keys (a payment API, a ticket
 * tracker): applying the same key twice applies it once. It lives in a directory outside longrun,
 * so tests can count what really happened: `applied/` holds one file per applied key, and
 * `attempts.log` one line per attempt. A key's file is written whole under a temporary name and
 * then hard-linked into place; link() fails if the name exists, so exactly one attempt wins and a
 * process killed half-way never leaves a half-written record.
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
    const temporary = join(this.dir, `.pending-${randomUUID()}`);
    writeFileSync(temporary, `${key}\t${entry}\n`);
    try {
      linkSync(temporary, this.#fileFor(key));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(temporary);
    }
  }

  /** Every applied effect: key and entry. */
  applied(): { key: string; entry: string }[] {
    return readdirSync(join(this.dir, 'applied')).map((name) => {
      const [key = '', entry = ''] = readFileSync(join(this.dir, 'applied', name), 'utf8')
        .trimEnd()
        .split('\t');
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
