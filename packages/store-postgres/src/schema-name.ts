import { LongrunError } from '@longrun/core';

/** The schema every longrun table lives in, and the advisory-lock namespace derived from it. */
export interface SchemaName {
  /** As given, e.g. `longrun`. */
  name: string;
  /** Quoted for SQL, e.g. `"longrun"`. */
  quoted: string;
  /**
   * First key of every advisory lock this schema takes (two-int4 form). Advisory locks are per
   * database, not per schema; deriving the namespace from the schema name keeps two schemas in
   * one database (e.g. parallel tests) from taking each other's locks. Positive, so it reads the
   * same as the unsigned `pg_locks.classid`.
   */
  lockNamespace: number;
}

// Lower-case identifiers only: no quoting surprises in psql, and safe to interpolate once quoted.
const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export function schemaName(name: string | undefined): SchemaName {
  const value = name ?? 'longrun';
  if (typeof value !== 'string' || !schemaPattern.test(value) || value.startsWith('pg_')) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `schema must be a lower-case SQL identifier (letters, digits, '_'; not starting with pg_), got ${JSON.stringify(value)}`,
    );
  }
  return {
    name: value,
    quoted: `"${value}"`,
    lockNamespace: fnv1a(`longrun:${value}`) & 0x7fffffff,
  };
}

/** 32-bit FNV-1a: stable across processes and versions; two schemas colliding is a 1-in-2^31 chance. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
