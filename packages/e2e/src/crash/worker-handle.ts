import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const workerScript = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/** A spawned crash-test worker and what it has reported so far. */
export class WorkerHandle {
  readonly child: ChildProcess;
  readonly acked: { sessionId: string; seq: number }[] = [];
  readonly ended: string[] = [];
  stderr = '';
  #waiters: { test: () => boolean; resolve: () => void }[] = [];
  readonly exited: Promise<number | null>;

  /**
   * `script` is the worker program: worker-process.ts by default, or another that takes the same
   * arguments and reports the same lines (the bench's peer-worker-process.ts).
   */
  constructor(
    storeUrl: string,
    workerId: string,
    dir: string,
    env: Record<string, string> = {},
    script = workerScript,
  ) {
    this.child = spawn(process.execPath, [script, storeUrl, workerId, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#check(false);
    });
    if (this.child.stdout === null) throw new Error('worker spawned without a stdout pipe');
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => this.#onLine(line));
    this.exited.then(
      () => this.#check(true),
      () => undefined,
    );
  }

  #ready = false;

  #onLine(line: string): void {
    const [kind, a, b] = line.split(' ');
    if (kind === 'ready') this.#ready = true;
    if (kind === 'ack') this.acked.push({ sessionId: a ?? '', seq: Number(b) });
    if (kind === 'ended') this.ended.push(`${a ?? ''} ${b ?? ''}`);
    this.#check(false);
  }

  #check(exited: boolean): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (exited || w.test()) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** Resolves when `test` holds or the process has exited; rejects after `timeoutMs`. */
  until(test: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `worker: ${what} not reached in ${timeoutMs} ms\n${this.stderr.slice(-2000)}`,
            ),
          ),
        timeoutMs,
      );
      this.#waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  ready(timeoutMs?: number): Promise<void> {
    return this.until(() => this.#ready, timeoutMs, 'ready');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await this.exited;
  }
}
