import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fixedDeflateMaxBytes, fixedDeflater } from './fixed-deflate.ts';

/** A seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dictionary = Buffer.from(
  '{"step":,"callIndex":0,"tool":"","ok":true,"output":{},"attempt":1}"text":"","toolCalls":[]',
);

/** One deflater for every case, as packed-json.ts keeps one: its reused buffers are tested too. */
const shared = fixedDeflater(dictionary);

function roundTrip(input: Uint8Array, dict: Uint8Array = dictionary): void {
  const packed = (dict === dictionary ? shared : fixedDeflater(dict)).deflate(input, 7);
  expect(packed[0]).toBe(7);
  const back = inflateRawSync(packed.subarray(1), dict.length > 0 ? { dictionary: dict } : {});
  expect(Buffer.compare(back, Buffer.from(input))).toBe(0);
}

describe('fixed-Huffman deflate against a dictionary', () => {
  it('is read back by zlib: empty, tiny, runs, repeats, far matches and random bytes', () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[fixed-deflate] seed=${seed} (repeat with LONGRUN_SEED=${seed})`);
    const next = random(seed);
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(65),
      Uint8Array.of(65, 66),
      Buffer.from('{"step":3,"callIndex":0,"tool":"append_line","ok":true}'),
      Buffer.alloc(1000, 'a'),
      Buffer.alloc(fixedDeflateMaxBytes, 'xyz'),
      Buffer.from('é漢字🙂'.repeat(300)),
    ];
    const far = Buffer.alloc(fixedDeflateMaxBytes);
    for (let i = 0; i < far.length; i++) far[i] = Math.floor(next() * 256);
    far.copy(far, far.length - 300, 0, 300); // a match 16 KiB back
    cases.push(far);
    for (let n = 0; n < 2_000; n++) {
      const length = Math.floor(next() * 3000);
      const alphabet = 1 + Math.floor(next() * 255);
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        // Runs and copies of earlier bytes among random ones, so every length and distance code shows.
        if (i > 10 && next() < 0.3) {
          const from = Math.floor(next() * i);
          const run = Math.min(length - i, 3 + Math.floor(next() * 300));
          for (let k = 0; k < run; k++) bytes[i + k] = bytes[from + k] as number;
          i += run - 1;
        } else bytes[i] = Math.floor(next() * alphabet);
      }
      cases.push(bytes);
    }
    // Long and short values in turn, so that what a long one left in the buffers meets short ones.
    for (const input of cases) roundTrip(input);
    for (const input of [...cases].reverse()) roundTrip(input);
    roundTrip(Buffer.from('no dictionary at all, no dictionary at all'), new Uint8Array(0));
  });

  it('matches the dictionary: a value made of it packs small', () => {
    const packed = fixedDeflater(dictionary).deflate(dictionary, 1);
    expect(packed.length).toBeLessThan(12);
  });

  it('refuses a value its window may not reach across', () => {
    expect(() =>
      fixedDeflater(dictionary).deflate(new Uint8Array(fixedDeflateMaxBytes + 1), 1),
    ).toThrow(RangeError);
  });
});
