import { describe, expect, it } from 'vitest';
import {
  encodeCheckpointState,
  isLongrunError,
  type JsonObject,
  type JsonValue,
  type ModelMessage,
} from '@longrun/core';
import {
  decodeMessages,
  encodeMessages,
  textPieceChars,
  type EncodedMessages,
  type StringColumns,
} from './transcript-codec.ts';
import { intsFromText } from './int-text.ts';

/**
 * Decoding must give back the messages exactly: same values, same keys in the same order, after
 * the store's ASCII JSON of a checkpoint.
 */
function roundTrip(messages: ModelMessage[]): ModelMessage[] {
  const stored = JSON.parse(encodeCheckpointState(encodeMessages(messages))) as EncodedMessages;
  const decoded = decodeMessages(stored);
  expect(JSON.stringify(decoded)).toBe(JSON.stringify(messages));
  expect(decoded).toEqual(messages);
  return decoded;
}

const call = (id: string, name = 'note') => ({ id, name, args: { line: id } });
const result = (id: string, output: JsonValue = `noted ${id}`, isError = false) => ({
  id,
  name: 'note',
  output,
  isError,
});

/** The messages of the format-3 and format-4 fixtures below (and more in format 3). */
const olderFormatMessages: ModelMessage[] = [
  { role: 'user', content: 'take notes' },
  { role: 'assistant', text: 'two calls', toolCalls: [call('a'), call('b', 'other')] },
  {
    role: 'tool',
    results: [
      { id: 'b', name: 'other', output: { why: 1 }, isError: true },
      result('x', 'noted x'),
    ],
  },
];

describe('the checkpoint transcript records', () => {
  it('give back every kind of message the harness writes', () => {
    roundTrip([
      { role: 'user', content: 'take notes' },
      { role: 'assistant', text: 'two calls', toolCalls: [call('a'), call('b', 'other')] },
      // Results in another order than their calls, one an error with a JSON output.
      { role: 'tool', results: [result('b', { why: ['x', 1, null] }, true), result('a')] },
      {
        role: 'assistant',
        text: '',
        toolCalls: [call('c')],
        parts: [
          { type: 'reasoning', text: 'hmm', providerMetadata: { anthropic: { signature: 's' } } },
          { type: 'tool-call', callIndex: 0 },
        ],
      },
      { role: 'tool', results: [result('c')] },
      { role: 'user', content: 'and then?' },
      { role: 'assistant', text: 'done', toolCalls: [] },
    ]);
  });

  it('keeps messages of shapes it does not know as they are', () => {
    roundTrip([
      { role: 'system', content: 'be brief' },
      {
        role: 'assistant',
        text: 'x',
        toolCalls: [{ ...call('p'), providerMetadata: { openai: { itemId: 'fc_1' } } }],
      },
      // A result whose call is not in the assistant message before it is stored with its id.
      { role: 'tool', results: [result('p'), result('elsewhere')] },
      // Keys in another order than the harness writes them are kept in that order.
      { text: 'reordered', role: 'assistant', toolCalls: [] } as unknown as ModelMessage,
      { role: 'tool', results: [{ name: 'note', id: 'q', isError: false, output: 1 }] },
    ]);
  });

  it('give back random transcripts exactly', () => {
    const seed = Number(process.env.LONGRUN_TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`transcript codec seed ${seed} (LONGRUN_TEST_SEED=${seed} reproduces)`);
    let s = seed;
    const rand = (n: number) => {
      s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
      return s % n;
    };
    for (let round = 0; round < 50; round++) {
      const messages: ModelMessage[] = [];
      for (let m = 0; m < 40; m++) {
        const calls = Array.from({ length: rand(4) }, (_, i) => call(`c${m}_${i}`, `t${rand(3)}`));
        messages.push({ role: 'assistant', text: `m${m}`, toolCalls: calls });
        const results = calls.map((c) => ({ ...result(c.id, rand(2) ? 'ok' : [m]), name: c.name }));
        if (rand(5) === 0) results.reverse();
        if (results.length > 0) messages.push({ role: 'tool', results });
        if (rand(7) === 0) messages.push({ role: 'user', content: `u${m}` });
      }
      roundTrip(messages);
    }
  });

  it('give back any string exactly: astral-plane characters, lone surrogates, empty', () => {
    // Strings are cut from one text by UTF-16 length: a lone high surrogate at the end of one
    // string and a lone low one at the start of the next make a pair in the text.
    const odd = ['', '\u{1F600}x\u{10FFFF}', '\uD83D', '\uDE00', 'é\u0000"\\\n', '\uDFFF\uD800'];
    const messages: ModelMessage[] = [];
    for (const [i, s] of odd.entries()) {
      const next = odd[(i + 1) % odd.length] as string;
      messages.push({ role: 'user', content: s });
      messages.push({
        role: 'assistant',
        text: s,
        toolCalls: [{ id: s + next, name: next, args: { [s]: next, k: s } }],
      });
      messages.push({
        role: 'tool',
        results: [{ id: s + next, name: next, output: s, isError: true }],
      });
    }
    const decoded = roundTrip(messages);
    expect(decoded[1]).toEqual(messages[1]);
  });

  it('cut the text in pieces of at most textPieceChars, each string whole in one', () => {
    const long = 'x'.repeat(textPieceChars + 5);
    const messages: ModelMessage[] = [{ role: 'user', content: 'task – go' }];
    for (let i = 0; i < 40; i++) {
      messages.push({ role: 'assistant', text: `step ${i}`, toolCalls: [call(`c${i}`)] });
      const output = i === 7 ? long : i === 8 ? '' : `${i}: ${'é'.repeat(1_000 + i * 97)}`;
      messages.push({ role: 'tool', results: [result(`c${i}`, output)] });
    }
    const { text, lengths } = encodeMessages(messages);
    expect(Array.isArray(text) && text.length).toBeGreaterThan(2);
    const pieces = text as string[];
    const total = intsFromText(lengths as string)?.reduce((a, b) => a + b, 0);
    expect(pieces.join('').length).toBe(total);
    for (const piece of pieces) {
      expect(piece.length > 0 && (piece.length <= textPieceChars || piece === long)).toBe(true);
    }
    expect(pieces).toContain(long);
    roundTrip(messages);
    // A string that would straddle two pieces is corrupt, and so is a piece left unread.
    const moved = { ...encodeMessages(messages), text: [pieces.join('')].concat('') };
    expect(() => decodeMessages(moved)).toThrowError(/values left over/);
    const joined = { ...encodeMessages(messages), text: [pieces.join('').slice(1), 'x'] };
    expect(() => decodeMessages(joined)).toThrowError(/not valid/);
  });

  it('give back args of every shape, string fields or not', () => {
    const args = [
      {},
      { line: 'a', path: 'b/c' },
      // Integer-like keys come first in an object, the same when it is rebuilt.
      { b: 'x', 2: 'y', 1: 'z' },
      JSON.parse('{"__proto__":"p","a":"b"}') as JsonObject,
      { n: 1 },
      { nested: { a: 'b' } },
      { list: ['a'] },
      { nothing: null },
    ];
    const messages: ModelMessage[] = [
      {
        role: 'assistant',
        text: 't',
        toolCalls: args.map((a, i) => ({ id: `c${i}`, name: 'tool', args: a })),
      },
      {
        role: 'tool',
        results: args.map((_, i) => result(`c${i}`, i % 2 ? `out ${i}` : { n: i }, i % 3 === 0)),
      },
    ];
    const decoded = roundTrip(messages);
    const own = (decoded[0] as { toolCalls: { args: JsonObject }[] }).toolCalls[3]?.args;
    expect(Object.getPrototypeOf(own)).toBe(Object.prototype);
    expect(Object.keys(own ?? {})).toEqual(['__proto__', 'a']);
  });

  it('store a long transcript in well under half the bytes of message objects', () => {
    const messages: ModelMessage[] = [{ role: 'user', content: 'go' }];
    for (let step = 1; step <= 1_000; step++) {
      messages.push({ role: 'assistant', text: `step ${step}`, toolCalls: [call(`call_${step}`)] });
      messages.push({ role: 'tool', results: [result(`call_${step}`)] });
    }
    const bytes = JSON.stringify(encodeMessages(messages)).length;
    expect(bytes).toBeLessThan(JSON.stringify(messages).length / 2);
  });

  it('read the string columns of format 4', () => {
    // What format 4 wrote: strings as an array, every args and output in `values`, isError 0/1.
    const format4: StringColumns = {
      shape: [1, 2, 2, 4, 2, 1, 1, -1, 0],
      strings: ['take notes', 'two calls', 'a', 'note', 'b', 'other', 'x', 'note'],
      values: [{ line: 'a' }, { line: 'b' }, { why: 1 }, 'noted x'],
    };
    expect(JSON.stringify(decodeMessages(format4))).toBe(JSON.stringify(olderFormatMessages));
  });

  it('read the flat records of format 3', () => {
    // What format 3 wrote for these messages: every item in one array, isError a boolean.
    const flat: JsonValue[] = [
      ...[1, 'take notes'],
      ...[2, 'two calls', 2, 'a', 'note', { line: 'a' }, 'b', 'other', { line: 'b' }],
      ...[4, 2, 1, { why: 1 }, true, -1, 'x', 'note', 'noted x', false],
      ...[3, '', [{ type: 'tool-call', callIndex: 0 }], 1, 'c', 'note', {}],
      ...[0, { role: 'system', content: 'be brief' }],
    ];
    expect(JSON.stringify(decodeMessages(flat))).toBe(
      JSON.stringify([
        ...olderFormatMessages,
        {
          role: 'assistant',
          text: '',
          toolCalls: [{ id: 'c', name: 'note', args: {} }],
          parts: [{ type: 'tool-call', callIndex: 0 }],
        },
        { role: 'system', content: 'be brief' },
      ]),
    );
  });

  it('refuse records they did not write, with INTERNAL', () => {
    const columns = (shape: JsonValue[], strings: JsonValue[] = [], values: JsonValue[] = []) =>
      ({ shape, strings, values }) as unknown as StringColumns;
    const text = (shape: JsonValue[], lengths: JsonValue[], t: string, values: JsonValue[] = []) =>
      ({ shape, lengths, text: t, values }) as unknown as EncodedMessages;
    const bad: (EncodedMessages | StringColumns | JsonValue[])[] = [
      [9, 'x'],
      [1],
      [1, 5],
      [2, 'text', 2, 'a', 'note', {}],
      [2, 'text', 1.5],
      [2, 'text', 0, 4, 1, 3, 'out', false],
      [4, 1, -1, 'id', 'name', 'out', 'yes'],
      [0, 'not a message'],
      columns([1], [5]),
      columns([1], ['x', 'left over']),
      columns([2, 1], ['text', 'a'], [{}]),
      columns([4, 1, 0, 1], [], ['out']),
      columns([4, 1, -1, 2], ['id', 'name'], ['out']),
      columns([4, 1, -1, 3], ['id', 'name', 'out']),
      text([1], [3], 'ab'),
      text([1], [1], 'ab'),
      text([1], [1.5], 'ab'),
      text([1], [-1], 'ab'),
      text([1], ['1'], 'ab'),
      text([1], [], ''),
      // A call's args: a count of string fields past the columns, below -1, or missing strings.
      text([2, 1, 5], [1, 1, 1], 'xab'),
      text([2, 1, -2], [1, 1, 1], 'xab'),
      text([2, 1, 1], [1, 1, 1, 1], 'xabk'),
      // A result's flags: unknown, or a string output that is not there.
      text([4, 1, -1, 4], [2, 4], 'idname', ['out']),
      text([4, 1, -1, 2], [2, 4], 'idname'),
      { shape: [1], lengths: [1] } as unknown as EncodedMessages,
      { shape: [1] } as unknown as EncodedMessages,
      null as unknown as EncodedMessages,
    ];
    for (const records of bad) {
      let thrown: unknown;
      try {
        decodeMessages(records);
      } catch (error) {
        thrown = error;
      }
      expect(isLongrunError(thrown, 'INTERNAL'), JSON.stringify(records)).toBe(true);
    }
  });
});
