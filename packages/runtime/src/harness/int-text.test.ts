import { describe, expect, it } from 'vitest';
import { intsFromText, intsToText } from './int-text.ts';

describe('numbers as text', () => {
  it('give back every number from -1 up, one character each under 31', () => {
    const values = [-1, 0, 1, 29, 30, 31, 32, 1_023, 1_024, 65_535, 2 ** 31, 2 ** 45, 7, -1];
    const text = intsToText(values);
    expect(text).not.toMatch(/["\\]/);
    expect(intsFromText(text)).toEqual(values);
    expect(intsToText([-1, 0, 30])).toHaveLength(3);
    expect(intsFromText('')).toEqual([]);
    // The format checkpoints already hold: n + 1 in base 32, most significant digit first.
    expect(intsToText([-1, 0, 31, 1_024])).toBe(']^$]$#^');
    expect(intsToText([])).toBe('');
    const many = Array.from({ length: 20_000 }, (_, i) => (i * 7_919) % 100_003);
    expect(intsFromText(intsToText(many))).toEqual(many);
  });

  it('refuse a text they did not write', () => {
    const text = intsToText([5, 40_000]);
    for (const bad of [text.slice(0, -1), `${text}"`, `${text} `, '#'.repeat(12) + ']', '\\']) {
      expect(intsFromText(bad), bad).toBeNull();
    }
  });
});
