import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  collectedMemory,
  inspectorUrlIn,
  judgeResources,
  readFdCount,
  readRssKiB,
  type CollectedMemory,
  type ResourceBars,
  type ResourceSample,
} from './process-resources.ts';

const bars: ResourceBars = {
  warmupMs: 40,
  windowMs: 20,
  maxMemoryGrowth: 0.1,
  fdSlack: 4,
  minWindowSamples: 5,
};

/** One sample a ms from 0 to 100, descriptors from `fds(t)`. */
function samples(fds: (t: number) => number): ResourceSample[] {
  return Array.from({ length: 101 }, (_, t) => ({ atMs: t, rssKiB: 100_000, fds: fds(t) }));
}

const memory = (heapUsedKiB: number, rssKiB: number): CollectedMemory[] =>
  [0.99, 1, 1.01].map((f) => ({ heapUsedKiB: heapUsedKiB * f, rssKiB: rssKiB * f }));

describe('judgeResources', () => {
  it('passes a process whose memory after collection and descriptors hold still', () => {
    const v = judgeResources(
      'steady',
      samples(() => 30),
      { baseline: memory(20_000, 100_000), end: memory(21_000, 104_000) },
      0,
      bars,
    );
    expect(v.problems).toEqual([]);
    expect(v.heapGrowth).toBeCloseTo(0.05, 5);
  });

  it('fails a heap, a resident size or descriptors that grow, each with its own reason', () => {
    const leaking = judgeResources(
      'w0',
      samples((t) => 30 + Math.floor(t / 10)),
      { baseline: memory(20_000, 100_000), end: memory(23_000, 100_000) },
      0,
      bars,
    );
    expect(leaking.problems).toEqual([
      expect.stringMatching(/^w0: after a full collection, its heap grew 15\.0 %/),
      expect.stringMatching(/^w0: open descriptors rose from at most 35 to 40/),
    ]);
    const native = judgeResources(
      'serve',
      samples(() => 30),
      { baseline: memory(20_000, 100_000), end: memory(20_000, 115_000) },
      0,
      bars,
    );
    expect(native.problems).toEqual([
      expect.stringMatching(/^serve: after a full collection, its resident memory grew 15\.0 %/),
    ]);
  });

  it('fails a process it could not watch long enough, or whose memory it could not read', () => {
    const died = judgeResources(
      'w1',
      samples(() => 30).slice(0, 44),
      { baseline: memory(1, 1), end: memory(1, 1) },
      0,
      bars,
    );
    expect(died.problems).toEqual([expect.stringMatching(/^w1: too few samples/)]);
    const unread = judgeResources(
      'w1',
      samples(() => 30),
      { baseline: [], end: [] },
      0,
      bars,
    );
    expect(unread.problems).toEqual([expect.stringMatching(/was not read after a collection/)]);
  });
});

describe('collectedMemory', () => {
  it("reads a live process's heap after a full collection, garbage gone and what it keeps counted", async () => {
    // Makes ~100 MiB of garbage at once; keeps ~64 MiB of arrays from its first SIGUSR2 on.
    const child = spawn(
      process.execPath,
      [
        '--inspect=127.0.0.1:0',
        '-e',
        `const kept = [];
         for (let i = 0; i < 100; i++) new Array(262144).fill(i);
         process.on('SIGUSR2', () => { for (let i = 0; i < 16; i++) kept.push(new Array(1048576).fill(i)); });
         setInterval(() => {}, 1000);
         console.log('ready');`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let stderr = '';
      let stdout = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      const deadline = Date.now() + 10_000;
      while (
        (inspectorUrlIn(stderr) === null || !stdout.includes('ready')) &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 20));
      const url = inspectorUrlIn(stderr);
      if (url === null) throw new Error(`no inspector address in ${stderr}`);
      const before = await collectedMemory(url);
      expect(before.heapUsedKiB).toBeLessThan(32 * 1024);
      child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 300));
      const after = await collectedMemory(url);
      expect(after.heapUsedKiB - before.heapUsedKiB).toBeGreaterThan(60 * 1024);
      expect(after.rssKiB).toBeGreaterThan(before.rssKiB);
      expect(readRssKiB(child.pid ?? -1)).toBeGreaterThan(0);
      expect(readFdCount(child.pid ?? -1)).toBeGreaterThan(2);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
