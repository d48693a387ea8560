import type { Row } from './rows.ts';
import type { Statements } from './sql.ts';

/** What the store's side tables (API keys, blobs) need from the store: its named statements. */
export interface PostgresAccess {
  /** A read, retried when its connection dropped. */
  read(doing: string, name: keyof Statements, values: unknown[]): Promise<Row[]>;
  /** A write, never retried once it may have been sent. */
  write(doing: string, name: keyof Statements, values: unknown[]): Promise<Row[]>;
  /** The injected time, or null for the server's clock. */
  nowParam(): number | null;
}
