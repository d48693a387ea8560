import { describe, expect, it } from 'vitest';
import { packJson, unpackJson } from './packed-json.ts';

/** JSON of about `chars` characters that repeats (so it packs) but not too simply. */
function jsonOf(chars: number): string {
  const calls: unknown[] = [];
  for (let i = 0; JSON.stringify(calls).length < chars; i++)
    calls.push({
      step: i,
      tool: 'append_line',
      args: { line: `line ${i * 7919} ${'-'.repeat(i % 50)}` },
    });
  return JSON.stringify(calls);
}

describe('packed JSON', () => {
  it('gives back every text it packs, across every window size it picks', () => {
    for (const chars of [64, 200, 660, 700, 2_700, 6_800, 15_000, 31_000, 40_000, 300_000]) {
      const text = jsonOf(chars);
      const packed = packJson(text);
      expect(packed).toBeInstanceOf(Uint8Array);
      expect((packed as Uint8Array).length).toBeLessThan(text.length / 2);
      expect(unpackJson(packed)).toBe(text);
    }
    expect(packJson('{"short":true}')).toBe('{"short":true}');
  });

  it('reads a value packed with the full 32 KiB window, as schema 11 SQLite stores first wrote them', () => {
    const text =
      '{"step":7,"callIndex":0,"tool":"append_line","ok":true,"output":{"step":7,"appended":65},"attempt":1}';
    const old = Buffer.from('AYO53hxHCCQWFKTmpcTnZOalYg8MhH6IUlBJZmaKGkQA', 'base64');
    expect(unpackJson(old)).toBe(text);
    expect(unpackJson(packJson(text))).toBe(text);
  });

  it('does not read a format it does not know', () => {
    expect(unpackJson(Uint8Array.of(2, 0, 0))).toBeNull();
  });
});
