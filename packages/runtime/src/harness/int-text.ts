/**
 * Whole numbers of -1 or more as text, for the columns of numbers of a checkpoint (format 9):
 * in a JSON array each number is a token of its own, and the tokens of a 2,000-step transcript's
 * columns (30,000 numbers) took most of the time to parse its checkpoint; as text they are one
 * token, read back a character at a time. Each number n is written as n + 1 in base 32, most
 * significant digit first, every digit but the last from `#` to `B` and the last from `]` to `|`
 * (no quote or backslash, which JSON would escape): a number under 31 is one character.
 */
const more = 0x23;
const last = 0x5d;
const base = 32;
/** Digits of a number past which a column is not one `intsToText` wrote (32^10 > 2^50). */
const maxDigits = 10;

export function intsToText(values: readonly number[]): string {
  // Every digit is ASCII: the text is written as bytes into one buffer, sized by a first pass,
  // and read as Latin-1 (a one-byte string). Pushing character codes to an array and spreading
  // it into fromCharCode made this the harness's largest allocation per step (about 13 kB a step
  // at 32 sessions of the peer workload).
  // Indexed loops: a for-of here allocated an iterator result per number where V8 had not
  // optimized it (a sampled allocation profile of the peer workload put 7.5 kB a step on it).
  let length = 0;
  for (let n = 0; n < values.length; n++) length += digitsOf((values[n] as number) + 1);
  const bytes = Buffer.allocUnsafe(length);
  let at = 0;
  for (let n = 0; n < values.length; n++) {
    let rest = (values[n] as number) + 1;
    at += digitsOf(rest);
    let i = at - 1;
    bytes[i] = last + (rest % base);
    rest = Math.floor(rest / base);
    while (rest > 0) {
      bytes[--i] = more + (rest % base);
      rest = Math.floor(rest / base);
    }
  }
  return bytes.toString('latin1', 0, length);
}

/** Base-32 digits of `n` (0 has one). */
function digitsOf(n: number): number {
  let digits = 1;
  for (let scale = base; scale <= n; scale *= base) digits++;
  return digits;
}

/** The numbers `intsToText` wrote, or null for a text it did not write. */
export function intsFromText(text: string): number[] | null {
  // As many numbers as characters at most; the array is allocated once and cut to length.
  const values = new Array<number>(text.length);
  let count = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= last && code < last + base) {
      values[count++] = value * base + code - last - 1;
      value = 0;
      digits = 0;
    } else if (code >= more && code < more + base && ++digits < maxDigits) {
      value = value * base + code - more;
    } else return null;
  }
  values.length = count;
  return digits === 0 ? values : null;
}
