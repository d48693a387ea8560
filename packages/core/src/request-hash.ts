import { hash } from 'node:crypto';

/** JSON with object keys sorted, so equal requests always hash the same whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (hex) of the request's canonical JSON: what an idempotency key is bound to. */
export function requestHash(body: unknown): string {
  return hash('sha256', canonicalJson(body), 'hex');
}
