import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { SecretMask } from './secret-mask.ts';

/** A value with every character URL and JSON encodings change, and a random core. */
const tricky = `p@ss w/"q"\\b+c=&'<>é😀${randomBytes(8).toString('hex')}`;
const aws = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const mask = new SecretMask(
  new Map([
    [tricky, 'TRICKY'],
    [aws, 'AWS_SECRET'],
  ]),
);

/** The forms a value is written in by common code, each as a function of the value. */
const textForms: Record<string, (v: string) => string> = {
  plain: (v) => v,
  encodeURIComponent: (v) => encodeURIComponent(v),
  encodeURI: (v) => encodeURI(v),
  'lowercase percent': (v) =>
    encodeURIComponent(v).replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase()),
  form: (v) => new URLSearchParams({ token: v }).toString().slice('token='.length),
  'python quote': (v) => encodeURIComponent(v).replaceAll('%2F', '/'),
  json: (v) => JSON.stringify(v).slice(1, -1),
  'json twice': (v) => JSON.stringify(JSON.stringify(v).slice(1, -1)).slice(1, -1),
  'json ascii-only': (v) =>
    JSON.stringify(v)
      .slice(1, -1)
      .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  'json escaped slash': (v) => JSON.stringify(v).slice(1, -1).replaceAll('/', '\\/'),
  html: (v) =>
    v.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    ),
  hex: (v) => Buffer.from(v).toString('hex'),
  HEX: (v) => Buffer.from(v).toString('hex').toUpperCase(),
};

describe('SecretMask', () => {
  for (const [form, encode] of Object.entries(textForms)) {
    it(`masks the ${form} form inside other text`, () => {
      for (const [value, name] of [
        [tricky, 'TRICKY'],
        [aws, 'AWS_SECRET'],
      ] as const) {
        const text = `before ${encode(value)} after`;
        expect(mask.text(text)).toBe(`before [secret:${name}] after`);
      }
    });
  }

  it('masks base64 and base64url of a value at each alignment inside a longer encoded text', () => {
    for (const value of [tricky, aws]) {
      for (let before = 0; before < 6; before++) {
        for (const after of [0, 1, 2, 3]) {
          const framed = Buffer.concat([
            randomBytes(before),
            Buffer.from(value),
            randomBytes(after),
          ]);
          for (const alphabet of ['base64', 'base64url'] as const) {
            const encoded = framed.toString(alphabet);
            const masked = mask.text(`Authorization: Basic ${encoded}`);
            const [head, tail, ...rest] = masked
              .slice('Authorization: Basic '.length)
              .split(/\[secret:\w+\]/);
            expect(rest, `${alphabet} +${before} -${after}: ${masked}`).toEqual([]);
            // Left: only the characters that share bits with the bytes around the value.
            expect(head).toBe(encoded.slice(0, Math.ceil((8 * before) / 6)));
            expect(tail!.length).toBeLessThanOrEqual(Math.ceil((8 * after) / 6) + 3);
          }
        }
      }
    }
  });

  it('masks strings anywhere in a JSON value, keys included', () => {
    const output = {
      [`key ${aws}`]: [{ header: `Bearer ${aws}` }, JSON.stringify({ token: tricky })],
      count: 3,
      ok: true,
      none: null,
    };
    expect(mask.json(output)).toEqual({
      'key [secret:AWS_SECRET]': [
        { header: 'Bearer [secret:AWS_SECRET]' },
        '{"token":"[secret:TRICKY]"}',
      ],
      count: 3,
      ok: true,
      none: null,
    });
  });

  it('leaves text without a secret as it is, and an empty mask returns what it is given', () => {
    const text = `ordinary ${aws.slice(0, 20)} text, with %2F and \\" and ${Buffer.from('hello world').toString('base64')}`;
    expect(mask.text(text)).toBe(text);
    expect(mask.finds(text)).toBe(false);
    const value = { a: [aws] };
    expect(SecretMask.none.json(value)).toBe(value);
    expect(SecretMask.none.empty).toBe(true);
  });

  it('stays linear on runs of the characters that have escapes (the test times out otherwise)', () => {
    for (const run of ['\\', '\\"', '%', '&', ' ', '/']) {
      const value = `a${run.repeat(32)}z`;
      const one = new SecretMask(new Map([[value, 'RUN']]));
      // Nearly the value in its JSON form, many times over: each near miss is tried and fails.
      const nearly = `a${JSON.stringify(run).slice(1, -1).repeat(33)}y `.repeat(100);
      expect(one.text(nearly)).toBe(nearly);
      expect(one.text(JSON.stringify(value))).toBe('"[secret:RUN]"');
    }
  });

  /** What a dump tool prints for `input` (the real tool: their layouts are what is masked). */
  const dump = (argv: readonly string[], input: string): string =>
    execFileSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
  const dumpTools: Record<string, readonly string[]> = {
    xxd: ['xxd'],
    'xxd -c 32': ['xxd', '-c', '32'],
    'xxd -p': ['xxd', '-p'],
    'hexdump -C': ['hexdump', '-C'],
    'od -An -tx1': ['od', '-An', '-tx1'],
    'od -tx1': ['od', '-tx1'],
  };

  for (const [tool, argv] of Object.entries(dumpTools)) {
    it(`masks a value's bytes in ${tool} output, across its lines, at any offset`, () => {
      for (const before of [0, 1, 5, 13]) {
        const out = dump(argv, `${'k'.repeat(before)}token=${aws}\n`);
        const masked = mask.text(out);
        expect(masked, `${tool} +${before}:\n${out}`).toContain('[secret:AWS_SECRET]');
        // No two consecutive bytes of the value are left in hex, nor 4 of its characters in clear.
        const hex = Buffer.from(aws).toString('hex');
        const left = masked.replace(/[^0-9a-f]/g, '');
        for (let i = 0; i + 4 <= hex.length; i += 2)
          expect(left).not.toContain(hex.slice(i, i + 4));
        for (let i = 0; i + 4 <= aws.length; i++) expect(masked).not.toContain(aws.slice(i, i + 4));
      }
    });
  }

  it('masks base64 wrapped at 76 columns (coreutils base64) and at any other position', () => {
    for (let before = 0; before < 80; before += 7) {
      const framed = `${'p'.repeat(before)}${JSON.stringify({ auth: aws })}\n`;
      const wrapped = dump(['base64'], framed);
      expect(mask.text(wrapped), `+${before}:\n${wrapped}`).toContain('[secret:AWS_SECRET]');
      expect(mask.text(wrapped.replaceAll('\n', '\r\n'))).toContain('[secret:AWS_SECRET]');
      const encoded = Buffer.from(framed).toString('base64');
      for (const width of [1, 5, 64]) {
        const lines = encoded.match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n');
        expect(mask.text(lines), `width ${width}`).toContain('[secret:AWS_SECRET]');
      }
    }
  });

  it('stays linear on hex dumps and wrapped base64 of near misses (the test times out otherwise)', () => {
    const value = `${'a'.repeat(48)}!`;
    const one = new SecretMask(new Map([[value, 'RUN']]));
    const nearly = `${'a'.repeat(47)}?`.repeat(40);
    for (const argv of Object.values(dumpTools)) {
      const out = dump(argv, nearly);
      expect(one.text(out)).toBe(out);
    }
    const wrapped = dump(['base64'], nearly);
    expect(one.text(wrapped)).toBe(wrapped);
    expect(one.text(dump(['xxd'], value))).toContain('[secret:RUN]');
  });

  it('masks a longer secret as itself where it holds a shorter one', () => {
    const both = new SecretMask(
      new Map([
        ['abcdef', 'SHORT'],
        ['xxabcdefyy', 'LONG'],
      ]),
    );
    expect(both.text('xxabcdefyy abcdef')).toBe('[secret:LONG] [secret:SHORT]');
  });
});
