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
 * How a checkpoint stores a transcript's messages: one flat JSON array of tagged records instead
 * of an array of message objects. A resume parses the checkpoint whole, and parsing cost follows
 * the objects and keys in the text: a 2,000-step transcript (3,777 messages) is 397 KB and 2.6 ms
 * of `JSON.parse` as objects, 143 KB and 0.9 ms parsed and rebuilt from this form (measured on the
 * bench machine). A tool result names its call by position in the assistant message before it,
 * so ids and tool names are not stored twice.
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

export function encodeMessages(messages: readonly ModelMessage[]): JsonValue[] {
  const out: JsonValue[] = [];
  let lastCalls: readonly ModelToolCall[] = [];
  for (const m of messages) {
    if (!encodeCompact(out, m, lastCalls)) out.push(tag.verbatim, m as unknown as JsonValue);
    if (m.role === 'assistant') lastCalls = m.toolCalls;
  }
  return out;
}

/** Appends `m` as a compact record; false (nothing appended) if it is not of a known shape. */
function encodeCompact(
  out: JsonValue[],
  m: ModelMessage,
  lastCalls: readonly ModelToolCall[],
): boolean {
  switch (m.role) {
    case 'user':
      if (!hasKeys(m, userKeys) || typeof m.content !== 'string') return false;
      out.push(tag.user, m.content);
      return true;
    case 'assistant':
      if (typeof m.text !== 'string' || !m.toolCalls.every(plainCall)) return false;
      if (hasKeys(m, assistantKeys)) out.push(tag.assistant, m.text);
      else if (hasKeys(m, assistantWithPartsKeys) && m.parts !== undefined)
        out.push(tag.assistantWithParts, m.text, m.parts);
      else return false;
      out.push(m.toolCalls.length);
      for (const c of m.toolCalls) out.push(c.id, c.name, c.args);
      return true;
    case 'tool':
      if (!hasKeys(m, ['role', 'results']) || !m.results.every(plainResult)) return false;
      out.push(tag.tool, m.results.length);
      for (const r of m.results) {
        const at = lastCalls.findIndex((c) => c.id === r.id && c.name === r.name);
        if (at >= 0) out.push(at, r.output, r.isError);
        else out.push(-1, r.id, r.name, r.output, r.isError);
      }
      return true;
    default:
      return false;
  }
}

/** Reads `encodeMessages` output value by value; a value of the wrong kind throws INTERNAL. */
class RecordReader {
  #at = 0;
  /** The latest assistant message's calls, which tool results name by position. */
  lastCalls: readonly ModelToolCall[] = [];

  readonly flat: readonly JsonValue[];

  constructor(flat: readonly JsonValue[]) {
    this.flat = flat;
  }

  get done(): boolean {
    return this.#at >= this.flat.length;
  }

  value(): JsonValue {
    if (this.done) throw this.corrupt('ended early');
    return this.flat[this.#at++] as JsonValue;
  }

  str(): string {
    const v = this.value();
    if (typeof v !== 'string') throw this.corrupt('expected a string');
    return v;
  }

  /** A count of the items that follow (each at least one value), or a call position (≥ -1). */
  int(least: number): number {
    const v = this.value();
    if (typeof v !== 'number' || !Number.isInteger(v) || v < least || v > this.flat.length) {
      throw this.corrupt('expected a count or a position');
    }
    return v;
  }

  /** The error for a value that is not what `encodeMessages` writes there. */
  corrupt(why: string): LongrunError {
    return new LongrunError(
      'INTERNAL',
      `the checkpoint's transcript is not valid at value ${this.#at - 1}: ${why}`,
    );
  }
}

/** The messages `encodeMessages` was given. Throws INTERNAL if `flat` is not its output. */
export function decodeMessages(flat: readonly JsonValue[]): ModelMessage[] {
  const reader = new RecordReader(flat);
  const messages: ModelMessage[] = [];
  while (!reader.done) messages.push(readMessage(reader));
  return messages;
}

function readMessage(reader: RecordReader): ModelMessage {
  const kind = reader.value();
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
  const isError = reader.value();
  if (typeof isError !== 'boolean') throw reader.corrupt('expected a boolean');
  return { id: call.id, name: call.name, output, isError };
}
