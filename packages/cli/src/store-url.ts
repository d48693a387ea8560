import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LongrunError, isLongrunError, type Clock, type SessionStore } from '@longrun/core';
import { defaultStore } from './args.ts';

export interface OpenStoreOptions {
  clock?: Clock;
  applicationName?: string;
  poolSize?: number;
  /**
   * Wait out an unreachable server at start-up instead of failing with STORE_UNAVAILABLE (exit
   * 3): what a worker or API node does, so that one started during an outage comes up after it.
   * On SQLite, a disk that fails (an I/O error, a full disk, a lock held too long) while the
   * store opens is waited out the same way; a file this process may not open is not. Each failed
   * attempt is told to `log`, which also hears of reconnects later on.
   */
  waitForServer?: boolean;
  log?: (message: string) => void;
  /** PostgreSQL: how long a registered worker counts as alive after a heartbeat (default 5000). */
  workerLivenessMs?: number;
  /**
   * The store must exist already: a SQLite file that does not is STORE_UNAVAILABLE (exit 3), and
   * nothing is created, neither the file nor its directory. What a command that only reads or
   * acts on what is stored passes (`sessions`, `keys list`, `schedules show`, `doctor`), so that a
   * mistyped --store is said instead of made; `run`, `dev`, `worker`, `serve` and `demo` create it.
   */
  mustExist?: boolean;
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
  const target = parseStoreUrl(url);
  if (target.kind === 'postgres') return openPostgres(url, target.url, options);
  // Loaded on demand, like pg: a process only pays for the driver it uses.
  if (options.mustExist === true) refuseMissingSqlite(target.path);
  const { SqliteStore } = await import('@longrun/store-sqlite');
  const open = () =>
    SqliteStore.open({
      path: target.path,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  if (options.waitForServer !== true) return open();
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (!isLongrunError(error) || !error.retryable) throw error;
      const retryInMs = Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 6));
      options.log?.(
        `waiting for the store at ${target.path} (attempt ${attempt}: ${error.message}); trying again in ${retryInMs} ms`,
      );
      await sleep(retryInMs);
    }
  }
}

function refuseMissingSqlite(path: string): void {
  if (path === ':memory:') return;
  // An empty file is no store either: opened, it would be given a new, empty schema.
  if (existsSync(path) && statSync(path).size === 0) {
    throw new LongrunError(
      'STORE_UNAVAILABLE',
      `no store at ${path}: the SQLite file is empty (0 bytes), so it holds no sessions (nothing was changed). If it held a store, it was truncated: restore it from a backup. Check --store (default ${defaultStore})`,
      { retryable: false },
    );
  }
  if (existsSync(path)) return;
  throw new LongrunError(
    'STORE_UNAVAILABLE',
    `no store at ${path}: the SQLite file does not exist (nothing was created). Check --store (default ${defaultStore}, relative to the current directory); \`longrun run\`, \`dev\`, \`worker\` or \`serve\` create a store`,
    { retryable: false },
  );
}

/** What a store URL names, once it parsed. */
export type StoreTarget = { kind: 'postgres'; url: URL } | { kind: 'sqlite'; path: string };

/**
 * Parses a store URL without touching the disk or the network: `postgres://…` and
 * `postgresql://…`, `sqlite:<path>` and `sqlite://<path>`, `:memory:`, or a plain file path. Anything
 * else — another scheme (`file:/x`, `mysql://…`), a URL with no scheme (`://bad:url`), an empty
 * string — is STORE_URL_INVALID: it is never taken for a file name, so no directory is made for it.
 */
export function parseStoreUrl(url: string): StoreTarget {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new LongrunError('STORE_URL_INVALID', `no store given; ${storeUrlHelp}`);
  }
  const invalid = (why: string): LongrunError =>
    new LongrunError(
      'STORE_URL_INVALID',
      `${why} in store URL ${JSON.stringify(redact(url))}; ${storeUrlHelp}`,
    );
  if (/[\u0000-\u001f\u007f]/.test(url)) throw invalid('control characters');
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      return { kind: 'postgres', url: new URL(url) };
    } catch {
      throw invalid('a PostgreSQL URL that does not parse');
    }
  }
  if (url === ':memory:') return { kind: 'sqlite', path: url };
  const sqlite = /^sqlite:(\/\/)?/i.exec(url);
  if (sqlite !== null) {
    const path = url.slice(sqlite[0].length);
    if (path === '' || path.trim() === '') throw invalid('no SQLite file');
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (scheme !== null) {
    throw invalid(
      `unsupported scheme "${scheme[1]}:" (a SQLite file is a plain path, ./name if it has a colon, or sqlite:<path>)`,
    );
  }
  if (url.startsWith(':') || url.includes('://')) throw invalid('a URL with no scheme');
  return { kind: 'sqlite', path: resolve(url) };
}

async function openPostgres(
  original: string,
  parsed: URL,
  options: OpenStoreOptions,
): Promise<SessionStore> {
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
              `waiting for the store at ${redact(original)} (attempt ${attempt}: ${error.message}); trying again in ${retryInMs} ms`,
            ),
        }
      : {}),
  });
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}
