import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import type { WireServer } from '@longrun/models/testing';
import { targets, type StoreTarget } from '../store-targets.ts';
import {
  isSummaryRequest,
  longSessionAgent,
  runLongSession,
  startLongSessionServer,
  type LongSessionShape,
} from './long-session.ts';

/**
 * kill -9 during a compaction (issue 13): a worker process runs the long session against the
 * wire server; its summary model has returned the first summary and blocks before the harness
 * can append `context.compacted`. It is SIGKILLed there; another worker process takes the
 * session over, asks for the summary again and finishes. Invariants (TESTING.md): the session
 * completes; its log equals an uninterrupted run's (ignoring times and epochs), so no event is
 * lost or doubled and the compaction is recorded once; seqs are contiguous; every request the
 * server saw was within the window with no call left without result.
 */
const workerScript = fileURLToPath(new URL('./compaction-worker-process.ts', import.meta.url));
const shape: LongSessionShape = {
  steps: 90,
  windowTokens: 128_000,
  protocol: 'anthropic',
  outputChars: 8_000,
};

class ChildWorker {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [workerScript, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.lines.push(line));
  }

  async until(line: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.some((l) => line.test(l))) {
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`worker never printed ${line}; stderr:\n${this.stderr.slice(-3_000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }
}

/** The log as transcript equality compares it: no times, epochs, attempts or session id. */
function comparable(events: readonly StoredEvent[]) {
  return events.map(({ seq, type, data, sessionId }) => {
    const { attempt: _attempt, ...rest } = data as Record<string, unknown>;
    const same = JSON.stringify(rest).replaceAll(sessionId, 'ses');
    return { seq, type, data: JSON.parse(same) as unknown };
  });
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function session(target: () => Promise<StoreTarget>) {
  const db = await target();
  const store = await openStore(db.url);
  const server: WireServer = await startLongSessionServer(shape);
  cleanup.push(
    () => db.drop(),
    () => store.close(),
    () => server.close(),
  );
  const { id } = await store.createSession({ agent: 'long-session', input: 'take 90 notes' });
  return { db, store, server, id };
}

for (const target of targets) {
  describe.runIf(target.run)(`kill -9 during a compaction, ${target.name}`, () => {
    it('the next worker compacts again and the session completes as an uninterrupted run', async () => {
      // The uninterrupted run, in process.
      const reference = await session(target.make);
      const agent = longSessionAgent(reference.server.baseURL, shape, reference.db.dir);
      await runLongSession(reference.store, agent, reference.id);
      const expected = await reference.store.readEvents(reference.id, 0, 100_000);
      expect(expected.filter((e) => e.type === 'context.compacted').length).toBeGreaterThan(0);

      const crashed = await session(target.make);
      const spawnWorker = (name: string, block: boolean) => {
        const worker = new ChildWorker([
          crashed.db.url,
          name,
          crashed.db.dir,
          crashed.server.baseURL,
          JSON.stringify(shape),
          block ? '1' : '0',
        ]);
        cleanup.push(() => worker.kill('SIGKILL'));
        return worker;
      };
      const first = spawnWorker('w1', true);
      await first.until(/^summarized 1$/);
      await first.kill('SIGKILL');
      const before = await crashed.store.readEvents(crashed.id, 0, 100_000);
      expect(before.some((e) => e.type === 'context.compacted')).toBe(false);
      writeFileSync(`${crashed.db.dir}/gate`, '');
      const second = spawnWorker('w2', false);
      await second.until(/^ack \d+ session\.(completed|failed)$/, 120_000);

      expect((await crashed.store.getSession(crashed.id)).status).toBe('completed');
      const events = await crashed.store.readEvents(crashed.id, 0, 100_000);
      expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
      expect(comparable(events)).toEqual(comparable(expected));
      expect(crashed.server.violations).toEqual([]);
      for (const request of crashed.server.requests) {
        expect(request.tokens).toBeLessThanOrEqual(shape.windowTokens);
      }
      // The summary lost with the first worker was asked for again: one more summary call.
      const compactions = events.filter((e) => e.type === 'context.compacted').length;
      expect(crashed.server.requests.filter(isSummaryRequest)).toHaveLength(compactions + 1);
    }, 240_000);
  });
}
