import { LongrunError } from './errors.ts';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Limits that keep one event small enough to append in one fsync'd transaction. */
export const payloadLimits = {
  /** Serialized bytes of one event's data. Larger outputs belong in the blob store. */
  maxBytes: 4 * 1024 * 1024,
  /** Nesting depth of arrays and objects. */
  maxDepth: 64,
} as const;

/**
 * Serializes a payload after checking that it is plain JSON data that round-trips exactly:
 * no bigint (JSON cannot hold it), no NaN or ±Infinity (JSON.stringify would turn them into
 * null), no integers beyond 2^53 (they would come back as other numbers), no cycles, functions,
 * symbols, undefined, or class instances. Throws INVALID_PAYLOAD with the offending path.
 */
export function encodePayload(value: unknown, what = 'payload'): string {
  assertPlainJson(value, what);
  return withinLimit(JSON.stringify(value), what);
}

/**
 * A checkpoint's state as `encodePayload` gives it, with every character outside ASCII written
 * as a `\u` escape (JSON.parse gives back the same value). A checkpoint is read whole on every
 * claim, and even one non-ASCII character makes the whole text a two-byte string, made on a slow
 * path: the 282 KB checkpoint of a compacted session (its summary says `events 1–5000`) was read
 * from a SQLite text column in 0.55 ms with its en dash and 0.23 ms without, then parsed in 0.44
 * against 0.39 ms; packed (packed-json.ts, as both stores keep it), unpacked to text in 0.50 ms against 0.29.
 * An escaped character takes 6 bytes (12 for one outside the BMP) instead of its 2 to 4 in UTF-8.
 */
export function encodeCheckpointState(value: unknown): string {
  const what = 'checkpoint.state';
  assertPlainJson(value, what);
  const text = JSON.stringify(value);
  // A text with as many UTF-8 bytes as characters is ASCII: the byte count, which the limit needs
  // anyway, says so without a scan for other characters (a regular expression took 151 µs on a
  // 289 kB checkpoint, the count 45). An escaped text is ASCII, so its length is its byte count.
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes === text.length) return withinBytes(text, bytes, what);
  const escaped = text.replace(nonAsciiAll, escapeChar);
  return withinBytes(escaped, escaped.length, what);
}

const nonAsciiAll = /[\u0080-\uffff]/g;

/** A UTF-16 code unit as a JSON escape (a surrogate pair becomes two, as JSON allows). */
function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function withinLimit(text: string, what: string): string {
  return withinBytes(text, Buffer.byteLength(text, 'utf8'), what);
}

/** `text`, whose UTF-8 length is `bytes`, unless that is over the limit. */
function withinBytes(text: string, bytes: number, what: string): string {
  if (bytes > payloadLimits.maxBytes) {
    throw new LongrunError(
      'INVALID_PAYLOAD',
      `${what} is ${bytes} bytes, over the ${payloadLimits.maxBytes}-byte limit for one event; store large outputs as blobs and keep a reference in the event`,
    );
  }
  return text;
}

export function decodePayload(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

function invalid(path: string, why: string): LongrunError {
  return new LongrunError('INVALID_PAYLOAD', `${path} ${why}; payloads must be plain JSON data`);
}

/**
 * Throws INVALID_PAYLOAD, naming the offending path, unless `value` is plain JSON data. Every
 * event and checkpoint passes through here, so the common case takes a pass that builds no path
 * strings and keeps no set of visited objects (a cycle shows as nesting past the depth limit);
 * only a value it rejects is walked again, by `checkJson`, for the path and the reason.
 */
function assertPlainJson(value: unknown, what: string): void {
  if (!isPlainJson(value, 0)) checkJson(value, what, 0, new Set());
}

function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value));
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= payloadLimits.maxDepth) return false;
  // Indexed loops: this recursion is not always optimized, and a for-of then allocates an
  // iterator result per item (a sampled allocation profile put 2 kB a step of the peer run here).
  if (Array.isArray(value)) {
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) if (!isPlainJson(items[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  // for-in walks the object's enum cache; Object.keys would allocate an array per object. Its
  // prototype is Object.prototype or null (checked above): an enumerable key someone added to
  // Object.prototype is checked too, which can only send the value to checkJson's full walk.
  for (const key in record) if (!isPlainJson(record[key], depth + 1)) return false;
  return true;
}

function checkJson(value: unknown, path: string, depth: number, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, `is ${value}`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        // 1e300 is such a number too: any JSON number this large may not be the one sent.
        throw invalid(
          path,
          `is ${value}, at or past 2^53 in size, where JSON numbers are no longer exact; send a number under 2^53 (9007199254740992), or the value as a string`,
        );
      }
      return;
    case 'bigint':
      throw invalid(path, 'is a bigint; send it as a decimal string');
    case 'object':
      break;
    default:
      throw invalid(path, `is a ${typeof value}`);
  }
  if (value === null) return;
  if (depth >= payloadLimits.maxDepth)
    throw invalid(path, `nests deeper than ${payloadLimits.maxDepth} levels`);
  if (seen.has(value)) throw invalid(path, 'is a cycle');
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => checkJson(item, `${path}[${i}]`, depth + 1, seen));
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw invalid(path, 'is not a plain object');
    for (const [key, item] of Object.entries(value)) {
      checkJson(item, `${path}.${key}`, depth + 1, seen);
    }
  }
  seen.delete(value);
}
