import { resolve } from 'node:path';
import { LongrunError, type Clock, type SessionStore } from '@longrun/core';

export interface OpenStoreOptions {
  clock?: Clock;
  applicationName?: string;
  poolSize?: number;
  /**
   * Wait out an unreachable server at start-up instead of failing with STORE_UNAVAILABLE (exit
   * 3): what a worker or API node does, so that one started during an outage comes up after it.
   * Each failed attempt is told to `log`, which also hears of reconnects later on.
   */
  waitForServer?: boolean;
  log?: (message: string) => void;
  /** PostgreSQL: how long a registered worker counts as alive after a heartbeat (default 5000). */
  workerLivenessMs?: number;
}

export const storeUrlHelp =
  'a store is a SQLite file (./.longrun/longrun.db or sqlite:///abs/path.db) or a PostgreSQL URL (postgres://user@host:5432/db?schema=longrun)';

/**
 * Opens the store a URL names: `postgres://…` or `postgresql://…` (an optional `schema` query
 * parameter picks the schema), `sqlite:<path>`, or a plain file path for SQLite.
 */
export async function openStore(
  url: string,
  options: OpenStoreOptions = {},
): Promise<SessionStore> {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new LongrunError('STORE_URL_INVALID', `no store given; ${storeUrlHelp}`);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new LongrunError(
        'STORE_URL_INVALID',
        `cannot parse store URL ${JSON.stringify(redact(url))}; ${storeUrlHelp}`,
        { cause: error },
      );
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    // Loaded on demand: a SQLite process (the embedded default) never pays for pg's start-up.
    const { PostgresStore } = await import('@longrun/store-postgres');
    const { waitForServer, log, ...rest } = options;
    return PostgresStore.open({
      url: parsed.toString(),
      ...(schema === undefined ? {} : { schema }),
      ...rest,
      ...(log === undefined ? {} : { log }),
      ...(waitForServer === true
        ? {
            waitForServerMs: Number.POSITIVE_INFINITY,
            onWaiting: (error, attempt, retryInMs) =>
              log?.(
                `waiting for the store at ${redact(url)} (attempt ${attempt}: ${error.message}); trying again in ${retryInMs} ms`,
              ),
          }
        : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('sqlite:')) {
    throw new LongrunError(
      'STORE_URL_INVALID',
      `unsupported store URL scheme in ${JSON.stringify(redact(url))}; ${storeUrlHelp}`,
    );
  }
  const path = url.startsWith('sqlite://')
    ? url.slice('sqlite://'.length)
    : url.startsWith('sqlite:')
      ? url.slice('sqlite:'.length)
      : url;
  if (path === '')
    throw new LongrunError(
      'STORE_URL_INVALID',
      `the SQLite URL ${JSON.stringify(url)} names no file; ${storeUrlHelp}`,
    );
  const { SqliteStore } = await import('@longrun/store-sqlite');
  return SqliteStore.open({
    path: path === ':memory:' ? path : resolve(path),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}
