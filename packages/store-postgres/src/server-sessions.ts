import type pg from 'pg';

/**
 * What longrun needs of each connection, and why a pooler that shares server connections breaks
 * it: the sentence both the open-time check and a statement that meets such a pool give.
 */
export function sharedServerConnectionsHint(
  where: string,
  mode: SharedServerSessions['mode'] = 'transaction',
): string {
  return `${where} is reached through a pool that shares server connections per ${mode} (PgBouncer's pool_mode=${mode}, or another pooler): longrun needs a server session per connection, for its prepared statements, the worker's advisory lock and LISTEN. Set pool_mode=session for longrun's database (or connect to PostgreSQL directly).`;
}

/** What `serverSessionsShared` saw: which pooling it proves, and the evidence, for the message. */
export interface SharedServerSessions {
  mode: 'transaction' | 'statement';
  evidence: string;
}

/**
 * Whether two connections to the server keep a server session each, as a direct connection or
 * PgBouncer's session mode gives, or share them per transaction or statement, which would take
 * the worker's liveness lock (a session-level advisory lock) away from the worker that holds it,
 * so that two workers could run one session and do a tool's side effect twice. Checked once when
 * the store opens, instead of waiting for a statement to fail (a pooler in transaction mode lets
 * every query of one connection through, on whichever server connection is free).
 *
 * Each connection asks for its backend's process id while the other holds a transaction open,
 * then the other way round: with a session each, a connection always sees its own backend, never
 * the other's. A pooler in transaction mode gives the server connection one client released to
 * the next client that asks (PgBouncer reuses the most recent first, or rotates them with
 * server_round_robin), so one of the five answers differs; in statement mode BEGIN is refused.
 */
export async function serverSessionsShared(
  a: pg.ClientBase,
  b: pg.ClientBase,
): Promise<SharedServerSessions | null> {
  const backend = async (client: pg.ClientBase): Promise<number> => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return Number(rows[0]?.pid);
  };
  let seen: { a: number[]; b: number[] };
  try {
    const a1 = await backend(a);
    await b.query('BEGIN');
    const b1 = await backend(b);
    if (b1 === a1) {
      // Proven already; and with a pool of one server connection, which b now holds in its
      // transaction, a's next query would wait for b's COMMIT, sent only after it: a deadlock.
      await b.query('COMMIT');
      return { mode: 'transaction', evidence: `two connections were given backend ${a1} in turn` };
    }
    const a2 = await backend(a);
    await b.query('COMMIT');
    await a.query('BEGIN');
    const a3 = await backend(a);
    const b2 = await backend(b);
    await a.query('COMMIT');
    seen = { a: [a1, a2, a3], b: [b1, b2] };
  } catch (error) {
    // PgBouncer's statement mode: "transaction blocks not allowed in statement pooling mode".
    const message = error instanceof Error ? error.message : String(error);
    if (/statement pooling mode/i.test(message)) return { mode: 'statement', evidence: message };
    throw error;
  }
  const own = (pids: number[]) => pids.every((pid) => pid === pids[0]);
  const crossed = seen.a.some((pid) => seen.b.includes(pid));
  if (own(seen.a) && own(seen.b) && !crossed) return null;
  return {
    mode: 'transaction',
    evidence: `backend process ids seen by one connection ${seen.a.join(', ')}, by another ${seen.b.join(', ')}`,
  };
}
