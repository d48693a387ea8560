import type { ClientConfig } from 'pg';
import { LongrunError } from '@longrun/core';
import type { ServerTarget } from './translate-error.ts';

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
    throw new LongrunError('STORE_URL_INVALID', `the PostgreSQL store URL does not parse; expected ${expectedForm}`, {
      cause: error,
    });
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
export function clientConfig(parsed: ParsedUrl, c: ConnectionSettings): ClientConfig {
  const url = new URL(parsed.url.href);
  const own = c.settings.map((setting) => `-c ${setting}`).join(' ');
  const given = url.searchParams.get('options');
  // Later -c settings win, so longrun's come after the URL's.
  if (own !== '') url.searchParams.set('options', given === null ? own : `${given} ${own}`);
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', c.applicationName);
  return {
    connectionString: url.href,
    // Without it an unreachable host hangs in the kernel's connect timeout (minutes).
    connectionTimeoutMillis: c.connectTimeoutMs,
    keepAlive: true,
  };
}
