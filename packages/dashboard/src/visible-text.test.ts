import { describe, expect, it } from 'vitest';
import { visibleText as coreVisibleText } from '@longrun/core';
import { argumentsExtent } from '../ui/arguments-extent.ts';
import { visibleText } from '../ui/visible-text.ts';

/** mulberry32: a small seeded generator, so a failing string can be made again. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the approval card's visible text", () => {
  it('writes out what would hide a payload, and leaves ordinary text as it is', () => {
    const cases: [string, string][] = [
      ['ls -la' + ' '.repeat(40_000) + '; rm -rf /', 'ls -la⟨40,000 spaces⟩; rm -rf /'],
      ['a\u202Eb', 'a⟨U+202E⟩b'],
      ['x\u200B\u200B\u200By', 'x⟨U+200B ×3⟩y'],
      ['\u2066isolated\u2069', '⟨U+2066⟩isolated⟨U+2069⟩'],
      ['tab\tand\t\ttabs', 'tab⟨tab⟩and⟨2 tabs⟩tabs'],
      ['line\r\nend', 'line⟨CR⟩\nend'],
      ['a\n\n\n\nb', 'a\n⟨4 line breaks⟩\nb'],
      ['no\u00A0break', 'no⟨U+00A0⟩break'],
      ['tag\u{E0041}', 'tag⟨U+E0041⟩'],
      ['\uFEFFbom', '⟨U+FEFF⟩bom'],
      ['fake ⟨40 spaces⟩ marker', 'fake ⟨U+27E8⟩40 spaces⟨U+27E9⟩ marker'],
      // Pretty JSON's own indentation and ordinary spacing stay.
      ['{\n  "command": "ls  -la"\n}', '{\n  "command": "ls  -la"\n}'],
      ['a' + ' '.repeat(15) + 'b', 'a' + ' '.repeat(15) + 'b'],
      ['a' + ' '.repeat(16) + 'b', 'a⟨16 spaces⟩b'],
      ['naïve café — 東京 👍🏽', 'naïve café — 東京 👍🏽'],
    ];
    for (const [input, shown] of cases)
      expect(visibleText(input), JSON.stringify(input)).toBe(shown);
  });

  it("is the same function as core's, on seeded random text of the characters it treats", () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 2 ** 31);
    console.log(`visible-text agreement seed: ${seed} (LONGRUN_SEED=${seed} to replay)`);
    const random = seededRandom(seed);
    const alphabet = [
      ...'ab ;{}"\\',
      ' '.repeat(20),
      '\n',
      '\t',
      '\r',
      '\u0000',
      '\u007F',
      '\u0085',
      '\u00A0',
      '\u00AD',
      '\u034F',
      '\u061C',
      '\u115F',
      '\u180E',
      '\u200B',
      '\u200D',
      '\u2028',
      '\u202E',
      '\u2060',
      '\u2067',
      '\u2800',
      '\u3000',
      '\u3164',
      '\uE000',
      '\uFE0F',
      '\uFEFF',
      '\u{E0001}',
      '\u{E0100}',
      '⟨',
      '⟩',
      'é',
      '👍',
    ];
    for (let trial = 0; trial < 500; trial++) {
      const length = Math.floor(random() * 60);
      const text = Array.from(
        { length },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      expect(visibleText(text), `seed ${seed} trial ${trial}: ${JSON.stringify(text)}`).toBe(
        coreVisibleText(text),
      );
    }
  });
});

describe('how much of a call’s arguments the log’s view shows', () => {
  it('reads the capped view the runtime writes: its note, then the first characters', () => {
    const whole = JSON.stringify({ command: 'x'.repeat(50_000) });
    const note = `[arguments of ${whole.length} characters (sha256 ${'a'.repeat(64)}), kept outside the transcript; the first 8000 follow. Read more with read_tool_result {"step": 1, "callIndex": 0, "part": "input", "offset": 8000}]\n`;
    const view = { kept_arguments: note + whole.slice(0, 8_000) };
    expect(argumentsExtent(view, whole.length)).toEqual({
      complete: false,
      chars: whole.length,
      shownChars: 8_000,
    });
    expect(argumentsExtent({ command: 'ls' }, null)).toEqual({
      complete: true,
      chars: 16,
      shownChars: 16,
    });
  });
});
