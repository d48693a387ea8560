import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
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
