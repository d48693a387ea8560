import type { ClientBase } from 'pg';
import { LongrunError, type DurabilityReport } from '@longrun/core';

export interface PostgresDurabilityOptions {
  /**
   * Opt out of waiting for the WAL flush on every commit, by name. Only `synchronous_commit=off`
   * is accepted: a server crash may then drop the last acknowledged commits (never corrupt them).
   * It also accepts a server that runs with fsync=off. Anything else is refused.
   */
  allowUnsafeDurability?: 'synchronous_commit=off';
}

/** The server's defaults for this role and database, read on a connection longrun did not tune. */
export interface ServerDurability {
  synchronousCommit: string;
  fsync: string;
}

export async function readServerDurability(client: ClientBase): Promise<ServerDurability> {
  const result = await client.query(
    `SELECT current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync`,
  );
  const row = result.rows[0] as { synchronous_commit: string; fsync: string };
  return { synchronousCommit: row.synchronous_commit, fsync: row.fsync };
}

/**
 * The synchronous_commit every longrun connection runs with. `on` waits for the local WAL flush
 * (and a synchronous standby's, if any); a server default of `remote_apply` is stronger still and
 * is kept. `local` and `remote_write` also flush locally, but are replaced by `on` so that a
 * failover to a synchronous standby loses nothing acknowledged.
 */
export function chooseSynchronousCommit(
  options: PostgresDurabilityOptions,
  server: ServerDurability,
): string {
  const unsafe = options.allowUnsafeDurability;
  if (unsafe !== undefined && unsafe !== 'synchronous_commit=off') {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `allowUnsafeDurability must be 'synchronous_commit=off' or absent (got ${JSON.stringify(unsafe)})`,
    );
  }
  if (unsafe !== undefined) return 'off';
  return server.synchronousCommit === 'remote_apply' ? 'remote_apply' : 'on';
}

/**
 * Checks that the setting took on the pooled connections (a connection pooler may drop startup
 * options) and writes the start-up report: what the server had, and what longrun runs with.
 */
export function checkDurability(
  options: PostgresDurabilityOptions,
  server: ServerDurability,
  chosen: string,
  actual: string,
): DurabilityReport {
  const optedOut = options.allowUnsafeDurability !== undefined;
  if (actual !== chosen) {
    throw new LongrunError(
      'DURABILITY_UNSAFE',
      `longrun asked for synchronous_commit=${chosen} at connect, but the connection runs with ${actual}; if a pooler sits in between, let it pass the "options" startup parameter`,
    );
  }
  if (server.fsync !== 'on' && !optedOut) {
    throw new LongrunError(
      'DURABILITY_UNSAFE',
      `the PostgreSQL server runs with fsync=${server.fsync}: a crash can lose or corrupt committed data. Set fsync=on in postgresql.conf, or opt out with allowUnsafeDurability: 'synchronous_commit=off'`,
    );
  }
  const notes: string[] = [];
  if (server.synchronousCommit === actual) {
    notes.push(
      `server default synchronous_commit=${actual}; longrun sets it on every connection anyway, so a role or database setting cannot weaken it`,
    );
  } else {
    notes.push(
      `server default synchronous_commit=${server.synchronousCommit} overridden to ${actual} on every longrun connection`,
    );
  }
  if (optedOut)
    notes.push(
      'synchronous_commit=off by explicit opt-out: a server crash may drop the last acknowledged commits',
    );
  if (server.fsync !== 'on')
    notes.push(`server runs with fsync=${server.fsync}: a crash may corrupt the database`);
  return {
    safe: !optedOut && server.fsync === 'on',
    settings: {
      synchronous_commit: actual,
      'synchronous_commit (server default)': server.synchronousCommit,
      fsync: server.fsync,
    },
    notes,
  };
}
