import pg from 'pg';
import { LongrunError, type DurabilityReport } from '@longrun/core';
import {
  checkDurability,
  chooseSynchronousCommit,
  readServerDurability,
  type PostgresDurabilityOptions,
  type ServerDurability,
} from './durability.ts';
import { serverSessionsShared, sharedServerConnectionsHint } from './server-sessions.ts';
import { describeTarget, translatePgError, type ServerTarget } from './translate-error.ts';

const expectedForm = 'postgres://user:password@host:5432/database';

export interface ParsedUrl {
  url: URL;
  target: ServerTarget;
}

/** Parses the store URL, refusing anything pg would misread, with the form it expects. */
export function parseStoreUrl(raw: unknown): ParsedUrl {
  let url: URL;
  try {
    if (typeof raw !== 'string' || raw.trim() === '') throw new TypeError('empty');
    url = new URL(raw);
  } catch (error) {
    throw new LongrunError(
      'STORE_URL_INVALID',
      `the PostgreSQL store URL does not parse; expected ${expectedForm}`,
      { cause: error },
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new LongrunError(
      'STORE_URL_INVALID',
      `the PostgreSQL store URL has scheme ${url.protocol.replace(/:$/, '')}; expected ${expectedForm}`,
    );
  }
  const user = decodeURIComponent(url.username) || process.env.PGUSER || 'postgres';
  return {
    url,
    // Never the password: this ends up in error messages and logs.
    target: {
      host: url.searchParams.get('host') ?? (url.hostname || process.env.PGHOST || 'localhost'),
      port: url.searchParams.get('port') ?? (url.port || process.env.PGPORT || '5432'),
      database: decodeURIComponent(url.pathname.slice(1)) || user,
    },
  };
}

export interface ConnectionSettings {
  /** `-c name=value` startup settings; added to any `options` the URL already carries. */
  settings: string[];
  applicationName: string;
  connectTimeoutMs: number;
}

/**
 * The pg config for one connection. Settings go into the connection string itself, because pg
 * lets connection-string parameters override the config object's fields.
 */
export function clientConfig(parsed: ParsedUrl, c: ConnectionSettings): pg.ClientConfig {
  const url = new URL(parsed.url.href);
  const own = c.settings.map((setting) => `-c ${setting}`).join(' ');
  const given = url.searchParams.get('options');
  // Later -c settings win, so longrun's come after the URL's.
  if (own !== '') url.searchParams.set('options', given === null ? own : `${given} ${own}`);
  if (!url.searchParams.has('application_name'))
    url.searchParams.set('application_name', c.applicationName);
  return {
    connectionString: url.href,
    // Without it an unreachable host hangs in the kernel's connect timeout (minutes).
    connectionTimeoutMillis: c.connectTimeoutMs,
    keepAlive: true,
  };
}

export interface PoolOptions extends PostgresDurabilityOptions {
  url: string;
  poolSize: number;
  applicationName: string;
  connectTimeoutMs: number;
  /** A pooled query with no answer for this long fails, and its connection is discarded. */
  queryTimeoutMs: number;
}

/** A pool whose every connection runs with the durability settings longrun checked. */
export interface OpenedPool {
  pool: pg.Pool;
  target: ServerTarget;
  /** For a worker's dedicated liveness connection: the pool's settings plus TCP keepalives. */
  livenessConfig: pg.ClientConfig;
  durability: DurabilityReport;
}

/**
 * Reads the server's durability defaults on an untuned connection, then opens the pool with
 * longrun's settings and checks on a pooled connection that they took.
 */
export async function openPool(options: PoolOptions): Promise<OpenedPool> {
  const parsed = parseStoreUrl(options.url);
  const translate = (error: unknown, doing: string): LongrunError =>
    translatePgError(error, doing, parsed.target);
  const probe = await connectProbe(parsed, options, translate);
  try {
    return await openPoolBeside(probe, parsed, options, translate);
  } finally {
    await probe.end().catch(() => {});
  }
}

async function openPoolBeside(
  probe: pg.Client,
  parsed: ParsedUrl,
  options: PoolOptions,
  translate: (error: unknown, doing: string) => LongrunError,
): Promise<OpenedPool> {
  const { durability: server, lz4 } = await readServer(probe, translate);
  const chosen = chooseSynchronousCommit(options, server);
  const durable = `synchronous_commit=${chosen}`;
  const config = clientConfig(parsed, {
    ...options,
    // A compression the URL's options name is the operator's choice.
    settings:
      lz4 && !parsed.url.searchParams.get('options')?.includes('default_toast_compression')
        ? [durable, lz4Toast]
        : [durable],
  });
  // The server probes an idle liveness connection, so a worker whose host vanished (no FIN, no
  // RST) loses its lock in about 10 + 3 × 5 s instead of the kernel default of hours.
  const keepalives = [
    'tcp_keepalives_idle=10',
    'tcp_keepalives_interval=5',
    'tcp_keepalives_count=3',
  ];
  const livenessConfig = clientConfig(parsed, { ...options, settings: [durable, ...keepalives] });
  // query_timeout: a query on a connection that no longer answers (a black-holed network) fails
  // instead of hanging, and the pool discards that connection (a query error releases it).
  const pool = new pg.Pool({
    ...config,
    max: options.poolSize,
    query_timeout: options.queryTimeoutMs,
  });
  // A pooled connection that dies (server restart, pg_terminate_backend) emits 'error'; with no
  // listener Node would crash the process. The pool drops it and the next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    const pooled = await pool.connect();
    let actual: string;
    try {
      const shared = await serverSessionsShared(probe, pooled);
      if (shared !== null)
        throw new LongrunError(
          'STORE_UNAVAILABLE',
          `${sharedServerConnectionsHint(describeTarget(parsed.target), shared.mode)} (${shared.evidence})`,
          { retryable: false },
        );
      const shown = await pooled.query(`SELECT current_setting('synchronous_commit') AS value`);
      actual = String((shown.rows[0] as { value: unknown }).value);
      pooled.release();
    } catch (error) {
      pooled.release(true);
      throw error;
    }
    const durability = checkDurability(options, server, chosen, actual);
    return { pool, target: parsed.target, livenessConfig, durability };
  } catch (error) {
    await pool.end().catch(() => {});
    throw error instanceof LongrunError
      ? error
      : translate(error, 'opening the PostgreSQL connection pool');
  }
}

/**
 * Values PostgreSQL compresses (over ~2 kB: a checkpoint, which holds the transcript and is
 * rewritten every 64 events, and the rare large event) are compressed with lz4 instead of pglz
 * where the server has it: upserting a 289 kB checkpoint took 1.2-1.5 ms instead of 2.8-3.1 (the
 * server's CPU, on the machine the workers often share), stored 27.3 kB instead of 25.4, and read
 * back faster. A per-connection default, so no schema change: rows written with pglz stay readable
 * and a server without lz4 keeps pglz.
 */
const lz4Toast = 'default_toast_compression=lz4';

/** An untuned connection: the server's own defaults, read before the pool is opened. */
async function connectProbe(
  parsed: ParsedUrl,
  options: PoolOptions,
  translate: (error: unknown, doing: string) => LongrunError,
): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(parsed, { ...options, settings: [] }));
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw translate(error, 'connecting to PostgreSQL');
  }
}

async function readServer(
  client: pg.Client,
  translate: (error: unknown, doing: string) => LongrunError,
): Promise<{ durability: ServerDurability; lz4: boolean }> {
  try {
    const durability = await readServerDurability(client);
    // lz4 is among the setting's values only on a server built with it (PostgreSQL 14 and on);
    // a server that will not say keeps its default.
    const lz4 = await client
      .query(
        `SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)`,
      )
      .then(
        (found) => found.rows.length > 0,
        () => false,
      );
    return { durability, lz4 };
  } catch (error) {
    throw translate(error, 'connecting to PostgreSQL');
  }
}
