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
  const codes: number[] = [];
  const digits: number[] = [];
  for (const value of values) {
    let rest = value + 1;
    digits.length = 0;
    do {
      digits.push(rest % base);
      rest = Math.floor(rest / base);
    } while (rest > 0);
    for (let i = digits.length - 1; i > 0; i--) codes.push(more + (digits[i] as number));
    codes.push(last + (digits[0] as number));
  }
  let text = '';
  // fromCharCode takes its codes as arguments: a few thousand at a time.
  for (let i = 0; i < codes.length; i += 4_096) {
    text += String.fromCharCode(...codes.slice(i, i + 4_096));
  }
  return text;
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
