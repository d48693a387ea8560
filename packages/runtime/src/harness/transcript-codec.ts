import {
  LongrunError,
  type JsonObject,
  type JsonValue,
  type ModelMessage,
  type ResponsePart,
  type ModelToolCall,
  type ModelToolResult,
} from '@longrun/core';
import { intsFromText, intsToText } from './int-text.ts';

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
 * Three layouts of the same records. Text columns (format 9, written; formats 5 to 7 had `text` in
 * one piece): tags, counts, positions and result flags in `shape`, every string one after another
 * in `text` (in pieces, see `textPieces`) with their lengths (UTF-16 code units) in `lengths`,
 * JSON values in `values`. `JSON.parse` cost follows the number of tokens more than the bytes,
 * and each string token is scanned and copied: a few long strings and arrays of numbers parse
 * faster, and slices of the long strings are cheap. So that the values
 * left are few, a call's args that are an object of string fields are written as the number of
 * fields in `shape` and their keys and values in `text` (-1 in `shape`: the args are in
 * `values`), and a result's isError is written as flags, isError (1) plus 2 when its output is a
 * string, which is then in `text` instead of `values`. A 2,000-step transcript (1,900 steps of one
 * call): 128 KB, `JSON.parse` + decode p50 0.67 ms against 1.11 for format 4 (parse alone 0.23
 * against 0.84). Columns (format 4, still read): strings as an array in `strings`, args and
 * outputs in `values`, isError 0/1. Flat (format 3, still read): every item in one array in
 * record order, isError a boolean.
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

/**
 * The text columns of a transcript's records (see above): `text` in pieces (format 9, see
 * `textPieces`), or one string (formats 5 to 7, still read).
 */
export interface EncodedMessages {
  /** As text (format 9, see `int-text.ts`) or an array (formats 5 to 7). */
  shape: string | number[];
  lengths: string | number[];
  text: string[] | string;
  values: JsonValue[];
}

/** The columns of format 4, still read. */
export interface StringColumns {
  shape: number[];
  strings: string[];
  values: JsonValue[];
}

/** A result's flags in `shape`: isError, and whether its output is a string in `text`. */
const resultFlag = { isError: 1, textOutput: 2 } as const;

export function encodeMessages(messages: readonly ModelMessage[]): EncodedMessages {
  const out: StringColumns = { shape: [], strings: [], values: [] };
  let lastCalls: readonly ModelToolCall[] = [];
  for (const m of messages) {
    if (!encodeCompact(out, m, lastCalls)) {
      out.shape.push(tag.verbatim);
      out.values.push(m as unknown as JsonValue);
    }
    if (m.role === 'assistant') lastCalls = m.toolCalls;
  }
  const { shape, strings, values } = out;
  return {
    shape: intsToText(shape),
    lengths: intsToText(strings.map((s) => s.length)),
    text: textPieces(strings),
    values,
  };
}

/**
 * The characters of a piece of `text` (format 9): a two-byte piece (one with a character outside
 * Latin-1) is then 64 KB, under the 128 KB past which V8 gives a string a heap page of its own.
 * Parsing a 246 KB text as one such string took 0.25 ms, cut in pieces 0.09 ms.
 */
export const textPieceChars = 32_768;

/**
 * `strings` one after another, cut into pieces of at most `textPieceChars` characters, each
 * string whole in one piece (a longer string is a piece of its own). No piece is empty.
 */
function textPieces(strings: readonly string[]): string[] {
  const pieces: string[] = [];
  let start = 0;
  let chars = 0;
  for (let i = 0; i < strings.length; i++) {
    const length = (strings[i] as string).length;
    if (chars > 0 && chars + length > textPieceChars) {
      pieces.push(strings.slice(start, i).join(''));
      start = i;
      chars = 0;
    }
    chars += length;
  }
  if (chars > 0) pieces.push(strings.slice(start).join(''));
  return pieces;
}

/**
 * The keys of `args` when it is an object whose every value is a string (most tool calls' are):
 * format 5 keeps its keys and values in `text`, so that parsing creates no object per call. Not
 * with a key `__proto__`, since setting it on a new object does not make a property.
 */
function stringFieldKeys(args: JsonValue): string[] | undefined {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return undefined;
  const keys = Object.keys(args);
  for (const key of keys) {
    if (typeof args[key] !== 'string' || key === '__proto__') return undefined;
  }
  return keys;
}

/** Appends `m` as a compact record; false (nothing appended) if it is not of a known shape. */
function encodeCompact(
  { shape, strings, values }: StringColumns,
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
        const keys = stringFieldKeys(c.args);
        shape.push(keys === undefined ? -1 : keys.length);
        if (keys === undefined) values.push(c.args);
        else for (const key of keys) strings.push(key, c.args[key] as string);
      }
      return true;
    case 'tool':
      if (!hasKeys(m, ['role', 'results']) || !m.results.every(plainResult)) return false;
      shape.push(tag.tool, m.results.length);
      for (const r of m.results) {
        const at = lastCalls.findIndex((c) => c.id === r.id && c.name === r.name);
        shape.push(at);
        if (at < 0) strings.push(r.id, r.name);
        const textOutput = typeof r.output === 'string';
        if (textOutput) strings.push(r.output as string);
        else values.push(r.output);
        shape.push((r.isError ? resultFlag.isError : 0) | (textOutput ? resultFlag.textOutput : 0));
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

/** Where a reader takes its strings from; `undefined` when there are none left. */
interface StringSource {
  next(): JsonValue | undefined;
  readonly consumed: boolean;
  readonly size: number;
}

/** Strings as items of a column (formats 3 and 4). */
class ColumnStrings implements StringSource {
  readonly #column: Column;

  constructor(column: Column) {
    this.#column = column;
  }

  next(): JsonValue | undefined {
    const c = this.#column;
    return c.at < c.items.length ? c.items[c.at++] : undefined;
  }

  get consumed(): boolean {
    return this.#column.at === this.#column.items.length;
  }

  get size(): number {
    return this.#column.items.length;
  }
}

/**
 * Strings cut by their lengths from the pieces of a text, each string whole in one piece (format
 * 8; formats 5 to 7 have one piece). Lengths count UTF-16 code units, as `String.length` and
 * `slice` do, so a string with astral-plane characters or lone surrogates comes back exactly. A
 * length that is not a whole number, or that runs past its piece, gives null.
 */
class TextStrings implements StringSource {
  #at = 0;
  /** The piece being read, and how far. */
  #piece = 0;
  #offset = 0;
  readonly #pieces: readonly string[];
  readonly #lengths: readonly JsonValue[];

  constructor(pieces: readonly string[], lengths: readonly JsonValue[]) {
    this.#pieces = pieces;
    this.#lengths = lengths;
  }

  next(): JsonValue | undefined {
    if (this.#at >= this.#lengths.length) return undefined;
    const length = this.#lengths[this.#at++];
    if (!Number.isInteger(length) || (length as number) < 0) return null;
    let text = this.#pieces[this.#piece] ?? '';
    let end = this.#offset + (length as number);
    // A string that does not fit in what is left of its piece starts the next one.
    if (
      end > text.length &&
      this.#offset === text.length &&
      this.#piece + 1 < this.#pieces.length
    ) {
      text = this.#pieces[++this.#piece] as string;
      this.#offset = 0;
      end = length as number;
    }
    if (end > text.length) return null;
    const s = text.slice(this.#offset, end);
    this.#offset = end;
    return s;
  }

  get consumed(): boolean {
    const last = this.#pieces.length - 1;
    return (
      this.#at === this.#lengths.length &&
      (last < 0 || (this.#piece === last && this.#offset === this.#pieces[last]?.length))
    );
  }

  get size(): number {
    return this.#lengths.length;
  }
}

/**
 * Reads records value by value, each kind from its column; in the flat layout the three columns
 * are one, read in record order. A value of the wrong kind throws INTERNAL.
 */
class RecordReader {
  readonly #shape: Column;
  readonly #strings: StringSource;
  readonly #values: Column;
  /** No count or position can exceed the longest column. */
  readonly #limit: number;
  /** Format 5: strings cut from one text, and args of string fields stored as such. */
  readonly #text: boolean;
  /** Format 3: one column for everything. */
  readonly #flat: boolean;
  /** The latest assistant message's calls, which tool results name by position. */
  lastCalls: readonly ModelToolCall[] = [];
  /** The keys of the latest args of string fields, in order (see `#key`). */
  readonly #keys: string[] = [];

  constructor(shape: Column, strings: StringSource, values: Column) {
    this.#text = strings instanceof TextStrings;
    this.#shape = shape;
    this.#strings = strings;
    this.#values = values;
    this.#limit = Math.max(shape.items.length, strings.size, values.items.length);
    this.#flat = shape === values;
  }

  get done(): boolean {
    return this.#shape.at >= this.#shape.items.length;
  }

  /** Whether every column was read to its end (a record that claims less than it has is not). */
  get consumed(): boolean {
    return (
      this.#strings.consumed && [this.#shape, this.#values].every((c) => c.at === c.items.length)
    );
  }

  value(): JsonValue {
    return this.#next(this.#values);
  }

  str(): string {
    const v = this.#strings.next();
    if (v === undefined) throw this.corrupt('ended early');
    if (typeof v !== 'string') throw this.corrupt('expected a string');
    return v;
  }

  /**
   * A call's args. Format 5 has in `shape` the number of its string fields, whose keys and values
   * are in `text`, or -1 for args in `values`; formats 3 and 4 have them in `values`.
   */
  args(): JsonObject {
    const fields = this.#text ? this.int(-1) : -1;
    if (fields === -1) return this.value() as JsonObject;
    const args: Record<string, string> = {};
    for (let f = 0; f < fields; f++) {
      const key = this.#key(this.str(), f);
      args[key] = this.str();
    }
    return args;
  }

  /**
   * `key`, or the same key of the previous call's args at this place: a key cut from the text is
   * a new string, which a property store looks up in V8's string table (hashing it), while most
   * calls of a transcript have the same keys in the same order, and comparing to one is cheap.
   */
  #key(key: string, field: number): string {
    const previous = this.#keys[field];
    if (previous === key) return previous;
    if (field < 16) this.#keys[field] = key;
    return key;
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

  /**
   * The result of call `id` (`name`), with its output and isError. In columns its flags (see
   * `resultFlag`) say where the output is; the flat layout has the output first, then isError as
   * a boolean. Built in one literal: a spread of the outcome into it took a fifth of decoding.
   */
  result(id: string, name: string): ModelToolResult {
    if (this.#flat) {
      const output = this.value();
      const isError = this.#next(this.#shape);
      if (typeof isError !== 'boolean') throw this.corrupt('expected a boolean');
      return { id, name, output, isError };
    }
    // Format 4 has only isError (0/1).
    const flags = this.#next(this.#shape);
    const most = this.#text ? resultFlag.isError | resultFlag.textOutput : resultFlag.isError;
    if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > most) {
      throw this.corrupt('expected result flags');
    }
    const output = flags & resultFlag.textOutput ? this.str() : this.value();
    return { id, name, output, isError: (flags & resultFlag.isError) !== 0 };
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
export function decodeMessages(
  encoded: EncodedMessages | StringColumns | readonly JsonValue[],
): ModelMessage[] {
  const reader = readerOf(encoded);
  const messages: ModelMessage[] = [];
  while (!reader.done) messages.push(readMessage(reader));
  if (!reader.consumed) throw reader.corrupt('values left over');
  return messages;
}

function readerOf(encoded: EncodedMessages | StringColumns | readonly JsonValue[]): RecordReader {
  if (Array.isArray(encoded)) {
    const flat = new Column(encoded as readonly JsonValue[]);
    return new RecordReader(flat, new ColumnStrings(flat), flat);
  }
  const { strings, text, values, ...numbers } = (encoded ?? {}) as Partial<
    EncodedMessages & StringColumns
  >;
  const shape = numbersOf(numbers.shape);
  const lengths = numbersOf(numbers.lengths);
  const pieces = typeof text === 'string' ? [text] : text;
  const source =
    Array.isArray(pieces) && pieces.every((p) => typeof p === 'string') && Array.isArray(lengths)
      ? new TextStrings(pieces, lengths)
      : Array.isArray(strings)
        ? new ColumnStrings(new Column(strings))
        : undefined;
  if (!Array.isArray(shape) || source === undefined || !Array.isArray(values)) {
    throw new LongrunError('INTERNAL', "the checkpoint's transcript has no record columns");
  }
  return new RecordReader(new Column(shape), source, new Column(values));
}

/** A column of numbers: as text (format 9, see `int-text.ts`) or an array (formats 3 to 7). */
function numbersOf(column: unknown): readonly JsonValue[] | null | undefined {
  return typeof column === 'string' ? intsFromText(column) : (column as JsonValue[] | undefined);
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
        calls[c] = { id: reader.str(), name: reader.str(), args: reader.args() };
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
  return reader.result(call.id, call.name);
}
