import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLongrunError, webhookSignal, type SessionStore, type StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { deliverWebhook, signalSession } from '@longrun/runtime';
import { targets } from '../store-targets.ts';

const script = fileURLToPath(new URL('./wait-worker-process.ts', import.meta.url));

/** A spawned wait-worker-process.ts and the events it reported acknowledged. */
class WaitWorker {
  readonly child: ChildProcess;
  readonly acked: { type: string; signal: string }[] = [];
  readonly exited: Promise<unknown>;
  stderr = '';

  constructor(url: string, id: string, dir: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [script, url, id, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const [kind, , , type = '', signal = ''] = line.split(' ');
      if (kind === 'ack') this.acked.push({ type, signal });
    });
  }

  /** Resolves when `test` holds, polling; fails after 30 s (the bound of every wait here). */
  async until(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await test())) {
      if (Date.now() > deadline) throw new Error(`${what}: not reached in 30 s\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (e: unknown) => (isLongrunError(e) ? e.code : String(e)),
  );
}

/**
 * kill -9 during each kind of durable wait and between a webhook's arrival and the session's
 * resumption (issue 13), on SQLite and Postgres. Invariants: the waiting session holds no lease
 * (a worker holds nothing while it waits); every wait resolves exactly once, with the value sent;
 * the webhook is delivered once (a second POST is GONE); a signal sent before its wait started is
 * delivered to it; the call is resumed, never recovered as interrupted; seq has no gap.
 */
for (const target of targets) {
  describe.runIf(target.run)(`kill -9 during durable waits, ${target.name}`, () => {
    it('a sleeping, a webhook-waiting and a signal-waiting call each survive kill -9 and resume once', async () => {
      const db = await target.make();
      const store: SessionStore = await openStore(db.url);
      const workers: WaitWorker[] = [];
      const spawnWorker = (env: Record<string, string> = {}) => {
        const w = new WaitWorker(db.url, `waiter-${workers.length}`, db.dir, env);
        workers.push(w);
        return w;
      };
      try {
        const { id } = await store.createSession({ agent: 'waiter', input: 'go' });
        // 1. kill -9 while the call sleeps: nothing holds the session; a new worker resumes it.
        const a = spawnWorker();
        await a.until(() => a.acked.some((e) => e.type === 'wait.started'), 'the sleep');
        expect(await store.getSession(id)).toMatchObject({ status: 'waiting', leaseOwner: null });
        await a.kill();
        // 2. The next worker resumes after the sleep and parks on the webhook; kill -9 it there.
        const b = spawnWorker();
        await b.until(() => b.acked.some((e) => e.signal.startsWith('hook:')), 'the hook wait');
        expect(await store.getSession(id)).toMatchObject({ status: 'waiting', leaseOwner: null });
        await b.kill();
        const token = lines(join(db.dir, 'tokens')).at(-1)!;
        // 3. The webhook arrives (once: a second POST is GONE) and `go` is sent before its wait.
        await deliverWebhook(store, token, { ci: 'green' });
        expect(await codeOf(deliverWebhook(store, token, { ci: 'again' }))).toBe('GONE');
        await signalSession(store, id, 'go', { release: 7 });
        // 4. A worker that dies the moment the webhook's wait resolves: between its arrival and
        //    the call's resumption.
        const c = spawnWorker({ LONGRUN_WAIT_DIE_AT: 'wait.resolved' });
        await c.exited;
        expect(c.acked.map((e) => e.type)).toContain('wait.resolved');
        // 5. The last worker resumes the call once and finishes the session.
        const d = spawnWorker();
        await d.until(
          async () => (await store.getSession(id)).status === 'completed',
          'the session completes',
        );
        await d.kill();

        const events = await store.readEvents(id, 0, 10_000);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        const of = <T extends StoredEvent['type']>(t: T) =>
          events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === t);
        const started = of('wait.started');
        const resolved = of('wait.resolved');
        expect(started.map((e) => e.data.kind)).toEqual(['timer', 'signal', 'signal']);
        expect(resolved.map((e) => e.data.waitId)).toEqual(started.map((e) => e.data.waitId));
        expect(resolved.map((e) => e.data.payload)).toEqual([
          null,
          { ci: 'green' },
          { release: 7 },
        ]);
        expect(of('tool.interrupted')).toEqual([]);
        expect(of('tool.resumed')).toHaveLength(3);
        expect(of('tool.completed').map((e) => e.data.output)).toEqual([
          { hook: { ci: 'green' }, go: { release: 7 } },
        ]);
        const hook = started[1]!.data.kind === 'signal' ? started[1]!.data.signal : '';
        expect(hook.startsWith(webhookSignal(''))).toBe(true);
        expect(await store.pendingSignals(id, hook)).toEqual([]);
        expect(await store.pendingSignals(id, 'go')).toEqual([]);
        // The tool ran once per resumption: the first run, then after the sleep, after the
        // webhook (its worker killed before the run, so resumed by the next) and after `go`.
        expect(lines(join(db.dir, 'runs')).length).toBeGreaterThanOrEqual(4);
      } finally {
        for (const w of workers) await w.kill();
        await store.close();
        await db.drop();
      }
    }, 120_000);
  });
}
