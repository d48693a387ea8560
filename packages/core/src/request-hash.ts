import { hash } from 'node:crypto';

/** JSON with object keys sorted, so equal requests always hash the same whatever the key order. */
export function canonicalJson(value: unknown): string {
  // Built by concatenation, with one array per object (its sorted keys): it runs for every tool
  // result a session folds.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++)
      out += (i === 0 ? '' : ',') + ((canonicalJson(value[i]) as string | undefined) ?? '');
    return `${out}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = sortedInPlace(Object.keys(record));
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const item = record[key];
      if (item === undefined) continue;
      out += (out.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(item);
    }
    return `${out}}`;
  }
  return JSON.stringify(value);
}

/**
 * `keys` sorted as Array.prototype.sort sorts strings (by UTF-16 code units). An object has few
 * keys: they are sorted by insertion, without the work array `sort` allocates.
 */
function sortedInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
}

/** SHA-256 (hex) of the request's canonical JSON: what an idempotency key is bound to. */
export function requestHash(body: unknown): string {
  return hash('sha256', canonicalJson(body), 'hex');
}
