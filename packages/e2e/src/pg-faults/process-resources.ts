import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** One reading of a process: its resident memory and its open file descriptors. */
export interface ResourceSample {
  /** performance.now() of the test process when read. */
  atMs: number;
  rssKiB: number;
  fds: number;
}

/** Resident memory of `pid`, KiB (VmRSS); null once the process is gone. */
export function readRssKiB(pid: number): number | null {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? null : Number(kib);
  } catch {
    return null;
  }
}

/** Open file descriptors of `pid`; null once the process is gone. */
export function readFdCount(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * What `pid`'s descriptors point at, counted by kind (`socket`, `pipe`, `anon_inode:[eventfd]`,
 * or `file`), for the message of a failed descriptor bar.
 */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return kinds;
  }
  for (const fd of fds) {
    let target = 'gone';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // Closed between the listing and the link: counted as gone.
    }
    const kind = /^(socket|pipe):/.exec(target)?.[1] ?? (target.startsWith('/') ? 'file' : target);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** Reads `pid` every `everyMs` until stopped or the process is gone. */
export class ResourceWatch {
  readonly label: string;
  readonly pid: number;
  readonly samples: ResourceSample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(label: string, pid: number, everyMs: number) {
    this.label = label;
    this.pid = pid;
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): void {
    const rssKiB = readRssKiB(this.pid);
    const fds = readFdCount(this.pid);
    if (rssKiB === null || fds === null) return;
    this.samples.push({ atMs: performance.now(), rssKiB, fds });
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The bars of a soak: "memory growth under 10 % after warm-up, flat descriptor count". */
export interface ResourceBars {
  /** Samples before `startMs + warmupMs` are the warm-up, not judged. */
  warmupMs: number;
  /** The length of the two descriptor windows compared: right after the warm-up, and at the end. */
  windowMs: number;
  /** Largest allowed growth of the heap and of resident memory after a full collection (0.1: 10 %). */
  maxMemoryGrowth: number;
  /** Descriptors the last window's highest count may exceed the first window's highest by. */
  fdSlack: number;
  /** Fewest samples each descriptor window needs for a verdict. */
  minWindowSamples: number;
}

/** Memory after full collections, read a few times right after the warm-up and at the end. */
export interface CollectedReadings {
  baseline: CollectedMemory[];
  end: CollectedMemory[];
}

export interface ResourceVerdict {
  label: string;
  samples: number;
  /** Medians of the collected readings, KiB. */
  baselineHeapKiB: number;
  endHeapKiB: number;
  baselineRssKiB: number;
  endRssKiB: number;
  /** The highest resident memory sampled (garbage included), KiB. */
  peakRssKiB: number;
  heapGrowth: number;
  rssGrowth: number;
  baselineFdsMax: number;
  endFdsMax: number;
  /** Why the process fails the bars; empty when it passes. */
  problems: string[];
}

/**
 * Judges one process: its heap and resident memory after full collections at the end against
 * right after the warm-up (medians of a few readings each), and the highest descriptor count of
 * the last window of samples against that of the first window after the warm-up. Too few
 * readings or samples is itself a problem: a process that died or was not watched cannot pass.
 */
export function judgeResources(
  label: string,
  samples: readonly ResourceSample[],
  collected: CollectedReadings,
  startMs: number,
  bars: ResourceBars,
): ResourceVerdict {
  const problems: string[] = [];
  const baselineFrom = startMs + bars.warmupMs;
  const lastAt = samples.at(-1)?.atMs ?? Number.NaN;
  const baseline = samples.filter(
    (s) => s.atMs >= baselineFrom && s.atMs < baselineFrom + bars.windowMs,
  );
  const end = samples.filter((s) => s.atMs > lastAt - bars.windowMs && s.atMs >= baselineFrom);
  if (baseline.length < bars.minWindowSamples || end.length < bars.minWindowSamples) {
    problems.push(
      `${label}: too few samples to judge (${baseline.length} after the warm-up, ` +
        `${end.length} at the end; ${bars.minWindowSamples} needed in each window)`,
    );
  } else if (baseline.some((s) => end.includes(s))) {
    problems.push(`${label}: the run is too short for two separate windows after the warm-up`);
  }
  if (collected.baseline.length === 0 || collected.end.length === 0) {
    problems.push(
      `${label}: its memory was not read after a collection, at the warm-up's end and at the run's`,
    );
  }
  const heapOf = (r: CollectedMemory[]) => median(r.map((m) => m.heapUsedKiB));
  const rssOf = (r: CollectedMemory[]) => median(r.map((m) => m.rssKiB));
  const baselineHeapKiB = heapOf(collected.baseline);
  const endHeapKiB = heapOf(collected.end);
  const baselineRssKiB = rssOf(collected.baseline);
  const endRssKiB = rssOf(collected.end);
  const heapGrowth = (endHeapKiB - baselineHeapKiB) / baselineHeapKiB;
  const rssGrowth = (endRssKiB - baselineRssKiB) / baselineRssKiB;
  const baselineFdsMax = Math.max(...baseline.map((s) => s.fds));
  const endFdsMax = Math.max(...end.map((s) => s.fds));
  if (problems.length === 0) {
    for (const [what, growth, from, to] of [
      ['its heap', heapGrowth, baselineHeapKiB, endHeapKiB],
      ['its resident memory', rssGrowth, baselineRssKiB, endRssKiB],
    ] as const) {
      if (!(growth < bars.maxMemoryGrowth))
        problems.push(
          `${label}: after a full collection, ${what} grew ${(growth * 100).toFixed(1)} % after ` +
            `the warm-up (${kib(from)} → ${kib(to)}); the bar is ${bars.maxMemoryGrowth * 100} %`,
        );
    }
    if (endFdsMax > baselineFdsMax + bars.fdSlack) {
      problems.push(
        `${label}: open descriptors rose from at most ${baselineFdsMax} to ${endFdsMax} ` +
          `(more than ${bars.fdSlack} above)`,
      );
    }
  }
  return {
    label,
    samples: samples.length,
    baselineHeapKiB,
    endHeapKiB,
    baselineRssKiB,
    endRssKiB,
    peakRssKiB: Math.max(...samples.map((s) => s.rssKiB)),
    heapGrowth,
    rssGrowth,
    baselineFdsMax,
    endFdsMax,
    problems,
  };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const kib = (value: number): string => `${(value / 1024).toFixed(1)} MiB`;

/** A Node process's memory right after a full garbage collection, read through its inspector. */
export interface CollectedMemory {
  heapUsedKiB: number;
  rssKiB: number;
}

/** The inspector address a process started with `--inspect=127.0.0.1:0` printed on stderr. */
export function inspectorUrlIn(stderr: string): string | null {
  return /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(stderr)?.[1] ?? null;
}

/**
 * Collects `url`'s process's garbage (HeapProfiler.collectGarbage, a full collection) and reads
 * its `process.memoryUsage()`, over the DevTools protocol. V8 lets garbage pile up until its heap
 * limit before it collects, so resident memory alone rises for minutes in a process that leaks
 * nothing; after a full collection, what is left is what the process holds.
 */
export async function collectedMemory(url: string, timeoutMs = 10_000): Promise<CollectedMemory> {
  const socket = new WebSocket(url);
  const replies = new Map<number, (result: unknown) => void>();
  const failed = new Promise<never>((_, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer from ${url} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    socket.addEventListener('error', () => reject(new Error(`the inspector at ${url} failed`)));
  });
  socket.addEventListener('message', (message) => {
    const reply = JSON.parse(String(message.data)) as { id?: number; result?: unknown };
    if (reply.id !== undefined) replies.get(reply.id)?.(reply.result);
  });
  let nextId = 1;
  const call = (method: string, params: object = {}): Promise<unknown> => {
    const id = nextId++;
    const answered = new Promise<unknown>((resolve) => replies.set(id, resolve));
    socket.send(JSON.stringify({ id, method, params }));
    return Promise.race([answered, failed]);
  };
  try {
    await Promise.race([
      new Promise<void>((resolve) => socket.addEventListener('open', () => resolve())),
      failed,
    ]);
    await call('HeapProfiler.collectGarbage');
    const result = (await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result?: { value?: string } };
    const usage = JSON.parse(result.result?.value ?? 'null') as {
      heapUsed: number;
      rss: number;
    } | null;
    if (usage === null) throw new Error(`the process at ${url} did not say its memory`);
    return { heapUsedKiB: usage.heapUsed / 1024, rssKiB: usage.rss / 1024 };
  } finally {
    socket.close();
  }
}
