import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { Worker, type WorkerOptions } from './worker.ts';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `longrun-${prefix}-`));
}

/** Runs a worker until the session reaches one of `statuses`, bounded by `timeoutMs`. */
export async function runUntil(
  options: WorkerOptions,
  sessionId: SessionId,
  statuses: readonly string[] = ['completed', 'failed'],
  timeoutMs = 20_000,
): Promise<void> {
  const worker = new Worker({ pollMs: 5, ...options });
  if (process.env.LONGRUN_DEBUG) worker.on('log', (e) => console.error(e));
  await worker.start();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const s = await options.store.getSession(sessionId);
      if (statuses.includes(s.status)) return;
      if (Date.now() > deadline)
        throw new Error(`session ${sessionId} still ${s.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await worker.stop();
  }
}

export async function allEvents(store: SessionStore, id: SessionId): Promise<StoredEvent[]> {
  return store.readEvents(id, 0, 100_000);
}

/** `expect.stringMatching` typed as the string it stands for, for use inside expected objects. */
export function matching(pattern: RegExp): string {
  return expect.stringMatching(pattern) as string;
}

/**
 * A stand-in, in memory, for an external system that honours idempotency keys (a payment API):
 * applying a key again applies nothing. Counts every attempt, so a test sees what was repeated.
 */
export class MemoryLedger {
  readonly #applied = new Map<string, string>();
  readonly #attempts = new Map<string, number>();

  /** Applies `entry` under `key` unless that key was applied before; returns whether it applied now. */
  apply(key: string, entry: string): boolean {
    this.#attempts.set(key, (this.#attempts.get(key) ?? 0) + 1);
    if (this.#applied.has(key)) return false;
    this.#applied.set(key, entry);
    return true;
  }

  /** Every applied entry with its key, in the order applied. */
  applied(): { key: string; entry: string }[] {
    return [...this.#applied].map(([key, entry]) => ({ key, entry }));
  }

  /** Attempts per key, including those that applied nothing. */
  attempts(): Map<string, number> {
    return new Map(this.#attempts);
  }
}
