import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const workerScript = fileURLToPath(new URL('./agent-worker-process.ts', import.meta.url));
/** Node's compile cache: a restarted worker is up in ~0.15 s instead of ~0.4 s. */
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');

export interface AckedEvent {
  sessionId: string;
  seq: number;
  type: string;
  step?: number;
  attempt?: number;
  tool?: string;
  callIndex?: number;
  code?: string;
}

/** A spawned agent crash-test worker (agent-worker-process.ts) and what it has reported. */
export class AgentWorkerHandle {
  readonly child: ChildProcess;
  readonly acked: AckedEvent[] = [];
  readonly effects: { tool: string; key: string; attempt: number }[] = [];
  readonly ended: { sessionId: string; outcome: string }[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';
  #ready = false;
  #exited = false;
  #waiters: { test: () => boolean; resolve: () => void }[] = [];
  /** The process exited and all of its output was read. */
  readonly #gone: Promise<void>;

  constructor(storeUrl: string, workerId: string, dir: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [workerScript, storeUrl, workerId, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_COMPILE_CACHE: compileCache, ...env },
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.#exited = true;
        resolve(code);
      }),
    );
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > 100_000) this.stderr = this.stderr.slice(-50_000);
    });
    if (this.child.stdout === null) throw new Error('worker spawned without a stdout pipe');
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => this.#onLine(line));
    const closed = new Promise<void>((resolve) => lines.on('close', resolve));
    this.#gone = Promise.all([this.exited, closed]).then(() => undefined);
  }

  #onLine(line: string): void {
    const [kind = '', a = '', b = '', c = '', ...rest] = line.split(' ');
    if (kind === 'ready') this.#ready = true;
    if (kind === 'ack') {
      const detail = JSON.parse(rest.join(' ') || '{}') as Omit<
        AckedEvent,
        'sessionId' | 'seq' | 'type'
      >;
      this.acked.push({ sessionId: a, seq: Number(b), type: c, ...detail });
    }
    if (kind === 'effect') this.effects.push({ tool: a, key: b, attempt: Number(c) });
    if (kind === 'ended') this.ended.push({ sessionId: a, outcome: b });
    this.#check();
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  get dead(): boolean {
    return this.#exited || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Resolves when `test` holds; rejects after `timeoutMs`, or once the process is gone and its
   * output read without `test` holding.
   */
  until(test: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`agent worker: ${what} ${why}\n${this.stderr.slice(-3000)}`));
      };
      const timer = setTimeout(() => fail(`not reached in ${timeoutMs} ms`), timeoutMs);
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
      // A process that died (e.g. killed itself at a crash point) can never satisfy `test` later.
      void this.#gone.then(() => {
        if (!this.#waiters.includes(waiter)) return;
        if (test()) {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          waiter.resolve();
        } else fail('not reached: the process exited');
      });
    });
  }

  ready(timeoutMs?: number): Promise<void> {
    return this.until(() => this.#ready, timeoutMs, 'ready');
  }

  /** The session ended here with one of `outcomes` (by default: any end but parking to wait). */
  endedWith(sessionId: string, outcomes = ['completed', 'failed', 'cancelled', 'error']): boolean {
    return this.ended.some((e) => e.sessionId === sessionId && outcomes.includes(e.outcome));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.dead) this.child.kill(signal);
    await this.exited;
  }
}
