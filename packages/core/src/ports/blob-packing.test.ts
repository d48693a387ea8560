import { randomBytes } from 'node:crypto';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { packBlob, unpackBlob } from './blob-packing.ts';
import { deflateSavesAnEighth } from './deflate-estimate.ts';

const n = 4096;

/** Samples of the kinds of bytes a workspace holds, each `n` long. */
function samples(): Record<string, Buffer> {
  // Word and number choices from the index: the kinds sit far from the eighth either way.
  let i = 0;
  const next = () => ((i++ * 7_919) % 1_000) / 1_000;
  const fill = (make: (i: number) => number) =>
    Buffer.from(Array.from({ length: n }, (_, i) => make(i)));
  const words = ['the', 'tests', 'fail', 'because', 'function', 'return', 'const', 'value', 'of'];
  const text = Array.from({ length: 2 * n }, () => words[Math.floor(next() * words.length)]).join(
    ' ',
  );
  const json = JSON.stringify(
    Array.from({ length: 200 }, (_, i) => ({
      id: i,
      name: `item-${Math.floor(next() * 1e6)}`,
      ok: next() > 0.5,
    })),
  );
  const random = randomBytes(n);
  const period = randomBytes(100);
  const noise = randomBytes(n);
  return {
    random,
    gzip: gzipSync(randomBytes(2 * n).toString('hex')).subarray(0, n),
    zeros: Buffer.alloc(n),
    text: Buffer.from(text).subarray(0, n),
    json: Buffer.from(json.repeat(2)).subarray(0, n),
    hex: Buffer.from(randomBytes(n).toString('hex')).subarray(0, n),
    base64: Buffer.from(randomBytes(n).toString('base64')).subarray(0, n),
    'random 100-byte block repeated': fill((i) => period[i % 100] as number),
    'random bytes below 64': fill((i) => (noise[i] as number) % 64),
    'random, every other byte zero': fill((i) => (i % 2 === 0 ? 0 : (noise[i] as number))),
  };
}

describe('the deflate estimate', () => {
  it('says what deflate at level 1 does of each kind of bytes: an eighth saved or not', () => {
    for (const [kind, bytes] of Object.entries(samples())) {
      const deflated = deflateRawSync(bytes, { level: 1 }).byteLength;
      const saves = deflated <= n - n / 8;
      expect(deflateSavesAnEighth(bytes), `${kind}: ${n} bytes deflate to ${deflated}`).toBe(saves);
    }
  });

  it('calls random and compressed bytes incompressible at every sample length up to 64 KiB', () => {
    for (const length of [64, 512, 4096, 65_536]) {
      expect(deflateSavesAnEighth(randomBytes(length)), `${length} random bytes`).toBe(false);
      expect(deflateSavesAnEighth(Buffer.alloc(length, 7)), `${length} equal bytes`).toBe(true);
    }
    expect(deflateSavesAnEighth(new Uint8Array(0))).toBe(false);
  });
});

describe('packing blobs', () => {
  it('keeps them as they are and leaves nothing for the garbage collector', async () => {
    const random = randomBytes(64 * 1024);
    expect(await packBlob(random)).toBe(random);
    const text = Buffer.from('the tests fail because the function returns early\n'.repeat(1_400));
    expect((await packBlob(text)).byteLength).toBeLessThan(text.byteLength / 8);
    // Deflating a sample of each to learn so left 16 KiB per blob until a collection: 64 MiB here.
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 4_096; i++) await packBlob(random);
    const grownMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
    expect(grownMiB, 'array buffers left behind (MiB)').toBeLessThan(4);
  });
});

describe('packing blobs a store can shrink', () => {
  it('packs them in a buffer of their own and leaves nothing of the deflate behind', async () => {
    for (const size of [8 * 1024, 64 * 1024, 256 * 1024]) {
      const text = Buffer.from(randomBytes(size).toString('base64')).subarray(0, size);
      const packed = await packBlob(text);
      expect(packed.byteLength, `${size} bytes of base64`).toBeLessThan(size * 0.8);
      expect(Buffer.from(await unpackBlob(packed, size)).equals(text)).toBe(true);
      expect(packed.byteOffset === 0 && packed.byteLength === packed.buffer.byteLength).toBe(true);
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 512; i++) ((await packBlob(text)).buffer as ArrayBuffer).transfer(0);
      const grownMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
      expect(grownMiB, `array buffers left behind by ${size}-byte blobs (MiB)`).toBeLessThan(4);
    }
  });
});
