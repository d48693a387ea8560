/**
 * Raw deflate (RFC 1951) of a small value against a preset dictionary, in one block of the
 * fixed Huffman codes, for packed-json.ts. Any inflate given the same dictionary reads it, as it
 * reads zlib's output. Made here because zlib's cost on an event of a few hundred bytes is
 * almost all setting up its stream (a zlib object, its state, hashing the dictionary), every
 * time: on SQLite's writer thread ~30-50 µs an event, ahead of each commit. This one hashes the
 * dictionary once and keeps its buffers, ~6 µs an event, for a few bytes more than zlib's level
 * 6 (a model response of 510 bytes: 171 instead of 164).
 *
 * Greedy LZ77 over the dictionary and the value as one buffer (a match may start in either),
 * hash chains of 3 bytes. Loads nothing else: SQLite's writer thread loads it.
 */

/** Values up to this many bytes only: every distance then fits the 32 KiB window of inflate. */
export const fixedDeflateMaxBytes = 16 * 1024;

const hashBits = 12;
/** Candidates tried at most per position, and a match long enough to stop looking (zlib: 128). */
const maxChain = 32;
const niceLength = 128;
/** A 3-byte match farther than this costs more bits than 3 literals (zlib's TOO_FAR). */
const tooFar = 4096;

export interface FixedDeflater {
  /** `prefix` (a format byte), then `input` deflated against the dictionary. */
  deflate(input: Uint8Array, prefix: number): Buffer;
}

export function fixedDeflater(dictionary: Uint8Array): FixedDeflater {
  const dictBytes = dictionary.length;
  const dictHead = new Int32Array(1 << hashBits).fill(-1);
  const dictPrev = new Int32Array(dictBytes).fill(-1);
  for (let i = 0; i + 2 < dictBytes; i++) {
    const h = hash3(dictionary, i);
    dictPrev[i] = dictHead[h] as number;
    dictHead[h] = i;
  }
  const head = new Int32Array(1 << hashBits);
  let window = new Uint8Array(dictBytes + 1024);
  let prev = new Int32Array(window.length);
  let out = new Uint8Array(2 * 1024 + 16);
  window.set(dictionary);

  return {
    deflate(input, prefix) {
      const total = dictBytes + input.length;
      if (input.length > fixedDeflateMaxBytes)
        throw new RangeError(`fixedDeflater takes at most ${fixedDeflateMaxBytes} bytes`);
      if (window.length < total) {
        window = new Uint8Array(total);
        window.set(dictionary);
        prev = new Int32Array(total);
      }
      // A literal takes 9 bits at most, a match of 3 bytes 31: twice the input always fits.
      if (out.length < 2 * input.length + 16) out = new Uint8Array(2 * input.length + 16);
      window.set(input, dictBytes);
      head.set(dictHead);
      prev.set(dictPrev);
      const bits = new BitWriter(out);
      out[0] = prefix;
      bits.at = 1;
      bits.put(1, 1); // BFINAL: the only block
      bits.put(1, 2); // BTYPE 01: fixed Huffman codes
      // The dictionary's last two positions hash bytes of the input.
      for (let i = Math.max(0, dictBytes - 2); i < dictBytes; i++)
        insert(window, head, prev, i, total);
      let i = dictBytes;
      while (i < total) {
        const length = longestMatch(window, head, prev, i, total);
        const distance = matchDistance;
        insert(window, head, prev, i, total);
        if (length < 3 || (length === 3 && distance > tooFar)) {
          putLiteral(bits, window[i] as number);
          i++;
          continue;
        }
        putMatch(bits, length, distance);
        for (let k = 1; k < length; k++) insert(window, head, prev, i + k, total);
        i += length;
      }
      putLiteral(bits, 256); // end of block
      return Buffer.from(out.subarray(0, bits.finish()));
    },
  };
}

function hash3(bytes: Uint8Array, i: number): number {
  const v =
    ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
  return Math.imul(v, 0x9e3779b1) >>> (32 - hashBits);
}

function insert(window: Uint8Array, head: Int32Array, prev: Int32Array, i: number, total: number) {
  if (i + 2 >= total) return;
  const h = hash3(window, i);
  prev[i] = head[h] as number;
  head[h] = i;
}

/** The distance of the match longestMatch last found (a variable, not an object a position). */
let matchDistance = 0;

/** The longest match for position `i` among its hash chain's candidates (0 if none). */
function longestMatch(
  window: Uint8Array,
  head: Int32Array,
  prev: Int32Array,
  i: number,
  total: number,
): number {
  let length = 0;
  let distance = 0;
  matchDistance = 0;
  if (i + 2 >= total) return 0;
  const maxLength = Math.min(258, total - i);
  let candidate = head[hash3(window, i)] as number;
  for (let chain = maxChain; candidate >= 0 && chain > 0; chain--) {
    if (window[candidate + length] === window[i + length]) {
      let l = 0;
      while (l < maxLength && window[candidate + l] === window[i + l]) l++;
      if (l > length) {
        length = l;
        distance = i - candidate;
        if (l >= niceLength || l === maxLength) break;
      }
    }
    candidate = prev[candidate] as number;
  }
  matchDistance = distance;
  return length;
}

/** Writes bits least significant first, as deflate packs them. */
class BitWriter {
  at = 0;
  #buffer = 0;
  #count = 0;
  readonly #out: Uint8Array;

  constructor(out: Uint8Array) {
    this.#out = out;
  }

  put(value: number, count: number): void {
    this.#buffer |= value << this.#count;
    this.#count += count;
    while (this.#count >= 8) {
      this.#out[this.at++] = this.#buffer & 0xff;
      this.#buffer >>>= 8;
      this.#count -= 8;
    }
  }

  /** Flushes the last partial byte; the bytes written. */
  finish(): number {
    if (this.#count > 0) this.#out[this.at++] = this.#buffer & 0xff;
    this.#buffer = 0;
    this.#count = 0;
    return this.at;
  }
}

/** A Huffman code is sent most significant bit first: reversed, for BitWriter. */
function reversed(code: number, length: number): number {
  let r = 0;
  for (let i = 0; i < length; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

// The fixed literal/length code (RFC 1951 3.2.6), by symbol 0-287.
const literalCode = new Uint16Array(288);
const literalBits = new Uint8Array(288);
for (let s = 0; s < 288; s++) {
  const [code, length] =
    s < 144
      ? [0x30 + s, 8]
      : s < 256
        ? [0x190 + s - 144, 9]
        : s < 280
          ? [s - 256, 7]
          : [0xc0 + s - 280, 8];
  literalCode[s] = reversed(code, length);
  literalBits[s] = length;
}

// Length symbols 257-285 and distance symbols 0-29: their first value and extra bits (3.2.5).
const lengthBase = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
];
const lengthExtra = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const distanceBase = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
  3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const distanceExtra = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];

/** Index into lengthBase of each match length 3-258. */
const lengthIndex = new Uint8Array(259);
for (let i = 0; i < lengthBase.length; i++) {
  const end = i + 1 < lengthBase.length ? (lengthBase[i + 1] as number) : 259;
  for (let l = lengthBase[i] as number; l < end; l++) lengthIndex[l] = i;
}

const distanceCode = distanceBase.map((_, i) => reversed(i, 5));

function distanceIndex(distance: number): number {
  let i = distanceBase.length - 1;
  while ((distanceBase[i] as number) > distance) i--;
  return i;
}

function putLiteral(bits: BitWriter, symbol: number): void {
  bits.put(literalCode[symbol] as number, literalBits[symbol] as number);
}

function putMatch(bits: BitWriter, length: number, distance: number): void {
  const li = lengthIndex[length] as number;
  putLiteral(bits, 257 + li);
  const le = lengthExtra[li] as number;
  if (le > 0) bits.put(length - (lengthBase[li] as number), le);
  const di = distanceIndex(distance);
  bits.put(distanceCode[di] as number, 5);
  const de = distanceExtra[di] as number;
  if (de > 0) bits.put(distance - (distanceBase[di] as number), de);
}
