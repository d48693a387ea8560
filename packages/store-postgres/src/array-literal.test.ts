import { createRequire } from 'node:module';
import pg from 'pg';
import { expect, it } from 'vitest';
import { textArrayLiteral } from './array-literal.ts';
import { describeWithServer, probeTestServer, testUrl } from './test-server.ts';

// pg's own conversion of a parameter value, the reference the literal must equal.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

const unavailable = await probeTestServer();
const seed = Number(process.env.LONGRUN_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** Strings that stress the escaping: quotes, backslashes, controls, surrogates (paired, lone). */
function fuzzStrings(count: number): (string | null)[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  const alphabet = [
    'a',
    'Z',
    ' ',
    '"',
    '\\',
    '\\"',
    '{',
    '}',
    ',',
    'NULL',
    '\n',
    '\t',
    '\u0001',
    '\u007f',
    'é',
    '€',
    '😀',
    '\ud83d',
    '\ude00',
    '\u2028',
    "'",
    '\\u0041',
    'x'.repeat(50),
  ];
  const out: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    if (next() < 0.05) {
      out.push(null);
      continue;
    }
    let s = '';
    const length = Math.floor(next() * 12);
    for (let j = 0; j < length; j++) s += alphabet[Math.floor(next() * alphabet.length)];
    out.push(next() < 0.3 ? JSON.stringify({ text: s, nested: JSON.stringify({ s }) }) : s);
  }
  return out;
}

it(`is the literal pg writes for the same array (seed ${seed})`, () => {
  console.log(`array-literal seed=${seed} (repeat with LONGRUN_SEED=${seed})`);
  const cases: (string | null)[][] = [[], [''], [null], ['a', null, ''], fuzzStrings(2_000)];
  for (let i = 0; i < 200; i++) cases.push(fuzzStrings(1 + (i % 7)));
  for (const items of cases) expect(textArrayLiteral(items)).toBe(prepareValue(items));
});

describeWithServer('array literals on a real server', unavailable, () => {
  it(`reach PostgreSQL as the same texts (seed ${seed})`, async () => {
    const client = new pg.Client({ connectionString: testUrl });
    await client.connect();
    try {
      // A NUL cannot be stored in a text at all, by pg's path or this one.
      const items = fuzzStrings(500).map((s) => s?.replaceAll('\u0000', '') ?? null);
      // Lone surrogates reach the server as U+FFFD, by pg's path and this one alike.
      const sent = items.map((s) => (s === null ? null : Buffer.from(s).toString()));
      const { rows } = await client.query<{ texts: (string | null)[] }>(
        'SELECT $1::text[] AS texts',
        [textArrayLiteral(items)],
      );
      expect(rows[0]?.texts).toEqual(sent);
    } finally {
      await client.end();
    }
  });
});
