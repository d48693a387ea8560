import {
  LongrunError,
  type JsonObject,
  type JsonValue,
  type ModelMessage,
  type ResponsePart,
  type ModelToolCall,
  type ModelToolResult,
} from '@longrun/core';

/**
 * How a checkpoint stores a transcript's messages: tagged records instead of message objects. A
 * resume parses the checkpoint whole, and parsing cost follows the objects and keys in the text:
 * a 2,000-step transcript (3,777 messages) is 397 KB and 2.6 ms of `JSON.parse` as objects. A
 * tool result names its call by position in the assistant message before it, so ids and tool
 * names are not stored twice.
 *
 * Records (`n` = a count, then that many items):
 * - `user`: content
 * - `assistant`: text, n, n × (id, name, args)
 * - `assistantWithParts`: text, parts, n, n × (id, name, args)
 * - `tool`: n, n × (call position, output, isError); position -1 is followed by id and name
 *   inline, for a result whose call is not in the assistant message before it
 * - `verbatim`: the message as it is, for any message whose keys are not exactly the ones above
 *   (a system message, a call with provider metadata, a field added later), so decoding gives
 *   back every message as it was encoded, keys in the same order.
 *
 * Two layouts of the same records. Columns (written): tags, counts, positions and isError (0/1)
 * in `shape`, strings in `strings`, JSON values in `values`: 135 KB, 0.75 ms parsed and rebuilt,
 * since V8 parses an array of one kind of value faster than a mixed one. Flat (format 3, still
 * read): every item in one array in record order, isError a boolean: 143 KB, 0.9 ms.
 */
const tag = { verbatim: 0, user: 1, assistant: 2, assistantWithParts: 3, tool: 4 } as const;

const userKeys = ['role', 'content'];
const assistantKeys = ['role', 'text', 'toolCalls'];
const assistantWithPartsKeys = ['role', 'text', 'toolCalls', 'parts'];
const callKeys = ['id', 'name', 'args'];
const resultKeys = ['id', 'name', 'output', 'isError'];

/** Whether `value`'s own keys are exactly `keys`, in that order (what decoding rebuilds). */
function hasKeys(value: object, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && own.every((k, i) => k === keys[i]);
}

function plainCall(c: ModelToolCall): boolean {
  return (
    hasKeys(c, callKeys) &&
    typeof c.id === 'string' &&
    typeof c.name === 'string' &&
    c.args !== undefined
  );
}

function plainResult(r: ModelToolResult): boolean {
  return (
    hasKeys(r, resultKeys) &&
    typeof r.id === 'string' &&
    typeof r.name === 'string' &&
    typeof r.isError === 'boolean' &&
    r.output !== undefined
  );
}

/** The columns of a transcript's records (see above). */
export interface EncodedMessages {
  shape: number[];
  strings: string[];
  values: JsonValue[];
}

export function encodeMessages(messages: readonly ModelMessage[]): EncodedMessages {
  const out: EncodedMessages = { shape: [], strings: [], values: [] };
  let lastCalls: readonly ModelToolCall[] = [];
  for (const m of messages) {
    if (!encodeCompact(out, m, lastCalls)) {
      out.shape.push(tag.verbatim);
      out.values.push(m as unknown as JsonValue);
    }
    if (m.role === 'assistant') lastCalls = m.toolCalls;
  }
  return out;
}

/** Appends `m` as a compact record; false (nothing appended) if it is not of a known shape. */
function encodeCompact(
  { shape, strings, values }: EncodedMessages,
  m: ModelMessage,
  lastCalls: readonly ModelToolCall[],
): boolean {
  switch (m.role) {
    case 'user':
      if (!hasKeys(m, userKeys) || typeof m.content !== 'string') return false;
      shape.push(tag.user);
      strings.push(m.content);
      return true;
    case 'assistant':
      if (typeof m.text !== 'string' || !m.toolCalls.every(plainCall)) return false;
      if (hasKeys(m, assistantKeys)) shape.push(tag.assistant);
      else if (hasKeys(m, assistantWithPartsKeys) && m.parts !== undefined) {
        shape.push(tag.assistantWithParts);
        values.push(m.parts);
      } else return false;
      strings.push(m.text);
      shape.push(m.toolCalls.length);
      for (const c of m.toolCalls) {
        strings.push(c.id, c.name);
        values.push(c.args);
      }
      return true;
    case 'tool':
      if (!hasKeys(m, ['role', 'results']) || !m.results.every(plainResult)) return false;
      shape.push(tag.tool, m.results.length);
      for (const r of m.results) {
        const at = lastCalls.findIndex((c) => c.id === r.id && c.name === r.name);
        shape.push(at);
        if (at < 0) strings.push(r.id, r.name);
        values.push(r.output);
        shape.push(r.isError ? 1 : 0);
      }
      return true;
    default:
      return false;
  }
}

/** One column of records being read, and how far. */
class Column {
  at = 0;
  readonly items: readonly JsonValue[];

  constructor(items: readonly JsonValue[]) {
    this.items = items;
  }
}

/**
 * Reads records value by value, each kind from its column; in the flat layout the three columns
 * are one, read in record order. A value of the wrong kind throws INTERNAL.
 */
class RecordReader {
  readonly #shape: Column;
  readonly #strings: Column;
  readonly #values: Column;
  /** No count or position can exceed the longest column. */
  readonly #limit: number;
  /** The latest assistant message's calls, which tool results name by position. */
  lastCalls: readonly ModelToolCall[] = [];

  constructor(shape: Column, strings: Column, values: Column) {
    this.#shape = shape;
    this.#strings = strings;
    this.#values = values;
    this.#limit = Math.max(shape.items.length, strings.items.length, values.items.length);
  }

  get done(): boolean {
    return this.#shape.at >= this.#shape.items.length;
  }

  /** Whether every column was read to its end (a record that claims less than it has is not). */
  get consumed(): boolean {
    return [this.#shape, this.#strings, this.#values].every((c) => c.at === c.items.length);
  }

  value(): JsonValue {
    return this.#next(this.#values);
  }

  str(): string {
    const v = this.#next(this.#strings);
    if (typeof v !== 'string') throw this.corrupt('expected a string');
    return v;
  }

  /** A record's tag. */
  tag(): JsonValue {
    return this.#next(this.#shape);
  }

  /** A count of the items that follow, or a call position (≥ -1). */
  int(least: number): number {
    const v = this.#next(this.#shape);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < least || v > this.#limit) {
      throw this.corrupt('expected a count or a position');
    }
    return v;
  }

  /** isError: 0 or 1 in the columns, a boolean in the flat layout. */
  bool(): boolean {
    const v = this.#next(this.#shape);
    if (v === 0 || v === 1) return v === 1;
    if (typeof v !== 'boolean') throw this.corrupt('expected a boolean');
    return v;
  }

  /** The error for a value that is not what `encodeMessages` writes there. */
  corrupt(why: string): LongrunError {
    const at = this.#shape.at - 1;
    return new LongrunError(
      'INTERNAL',
      `the checkpoint's transcript is not valid (record item ${at}): ${why}`,
    );
  }

  #next(column: Column): JsonValue {
    if (column.at >= column.items.length) throw this.corrupt('ended early');
    return column.items[column.at++] as JsonValue;
  }
}

/**
 * The messages `encodeMessages` was given, from its columns or from the flat records of format 3.
 * Throws INTERNAL if `encoded` is neither.
 */
export function decodeMessages(encoded: EncodedMessages | readonly JsonValue[]): ModelMessage[] {
  const reader = readerOf(encoded);
  const messages: ModelMessage[] = [];
  while (!reader.done) messages.push(readMessage(reader));
  if (!reader.consumed) throw reader.corrupt('values left over');
  return messages;
}

function readerOf(encoded: EncodedMessages | readonly JsonValue[]): RecordReader {
  if (Array.isArray(encoded)) {
    const flat = new Column(encoded as readonly JsonValue[]);
    return new RecordReader(flat, flat, flat);
  }
  const { shape, strings, values } = (encoded ?? {}) as Partial<EncodedMessages>;
  if (!Array.isArray(shape) || !Array.isArray(strings) || !Array.isArray(values)) {
    throw new LongrunError('INTERNAL', "the checkpoint's transcript has no record columns");
  }
  return new RecordReader(new Column(shape), new Column(strings), new Column(values));
}

function readMessage(reader: RecordReader): ModelMessage {
  const kind = reader.tag();
  switch (kind) {
    case tag.user:
      return { role: 'user', content: reader.str() };
    case tag.assistant:
    case tag.assistantWithParts: {
      const text = reader.str();
      const parts = kind === tag.assistantWithParts ? reader.value() : undefined;
      const calls = new Array<ModelToolCall>(reader.int(0));
      for (let c = 0; c < calls.length; c++) {
        calls[c] = { id: reader.str(), name: reader.str(), args: reader.value() as JsonObject };
      }
      reader.lastCalls = calls;
      return parts === undefined
        ? { role: 'assistant', text, toolCalls: calls }
        : { role: 'assistant', text, toolCalls: calls, parts: parts as unknown as ResponsePart[] };
    }
    case tag.tool: {
      const results = new Array<ModelToolResult>(reader.int(0));
      for (let r = 0; r < results.length; r++) results[r] = readResult(reader);
      return { role: 'tool', results };
    }
    case tag.verbatim: {
      const m = reader.value() as unknown as ModelMessage;
      if (m === null || typeof m !== 'object') throw reader.corrupt('expected a message');
      if (m.role === 'assistant') reader.lastCalls = m.toolCalls;
      return m;
    }
    default:
      throw reader.corrupt(`unknown record ${JSON.stringify(kind)}`);
  }
}

function readResult(reader: RecordReader): ModelToolResult {
  const at = reader.int(-1);
  const call = at === -1 ? { id: reader.str(), name: reader.str() } : reader.lastCalls[at];
  if (call === undefined) throw reader.corrupt(`no call at position ${at}`);
  const output = reader.value();
  return { id: call.id, name: call.name, output, isError: reader.bool() };
}
