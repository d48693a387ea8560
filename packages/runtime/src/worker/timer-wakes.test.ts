import { describe, expect, it } from 'vitest';
import { TimerWakes } from './timer-wakes.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('TimerWakes', () => {
  it('gives the earliest time after now, dropping the ones due, in any insertion order', () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 100_000);
    const random = seeded(seed);
    const wakes = new TimerWakes();
    const times = Array.from({ length: 2_000 }, () => Math.floor(random() * 10_000));
    for (const t of times) wakes.add(t);
    const sorted = times.slice().sort((a, b) => a - b);
    for (const now of [-1, 0, 17, 500, 4_999, 9_998, 10_000]) {
      expect(wakes.nextAfter(now), `seed=${seed} now=${now}`).toBe(sorted.find((t) => t > now));
    }
    expect(wakes.size).toBe(0);
  });

  it('keeps the earliest times when full', () => {
    const wakes = new TimerWakes(4);
    for (const t of [50, 40, 30, 20, 60, 10, 35]) wakes.add(t);
    expect(wakes.size).toBe(4);
    const seen: number[] = [];
    let now = 0;
    for (let next = wakes.nextAfter(now); next !== undefined; next = wakes.nextAfter(now)) {
      seen.push(next);
      now = next;
    }
    expect(seen).toEqual([10, 20, 30, 35]);
  });
});
