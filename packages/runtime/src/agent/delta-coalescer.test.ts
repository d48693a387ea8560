import { describe, expect, it, vi } from 'vitest';
import { DeltaCoalescer } from './delta-coalescer.ts';

describe('the delta coalescer', () => {
  it('arms no timer for a response that arrives whole and is closed in the same turn', async () => {
    vi.useFakeTimers();
    try {
      const flushed: string[] = [];
      const coalescer = new DeltaCoalescer(250, async (text) => void flushed.push(text));
      coalescer.push('the whole text');
      await coalescer.close({ drain: false });
      expect(vi.getTimerCount()).toBe(0);
      await vi.runAllTimersAsync();
      expect(flushed).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flushes what a longer stream buffered, in order, once per interval, and the rest on drain', async () => {
    vi.useFakeTimers();
    try {
      const flushed: string[] = [];
      const coalescer = new DeltaCoalescer(250, async (text) => void flushed.push(text));
      coalescer.push('a');
      coalescer.push('b');
      await vi.advanceTimersByTimeAsync(0); // the next turn arms the timer
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(250);
      expect(flushed).toEqual(['ab']);
      coalescer.push('c');
      await vi.advanceTimersByTimeAsync(0);
      coalescer.push('d');
      await coalescer.close({ drain: true });
      expect(flushed).toEqual(['ab', 'cd']);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
